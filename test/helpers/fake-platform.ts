import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** One request a worker made, as recorded. */
export interface Recorded {
  t: number;
  method: string;
  route: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage["headers"];
  body: string;
}

/**
 * A stand-in for the platform's side of the worker protocol, to drive a runtime without the emulator:
 * it hands out queued jobs, holds long-polls, answers stops when told, and records every request.
 */
export class FakePlatform {
  readonly requests: Recorded[] = [];
  private readonly queue: Record<string, unknown>[] = [];
  private readonly held = new Set<() => void>();
  private pendingStops: string[] = [];
  private stopWaiter: ((ids: string[]) => void) | undefined;
  private readonly watchers = new Set<() => void>();
  private server!: Server;
  private readonly started = Date.now();
  /** When each job was handed out. */
  readonly handedOut = new Map<string, number>();

  constructor(private readonly holdMs = 2000) {}

  /** Listens on a free loopback port; returns the base URL (`http://127.0.0.1:PORT/v2/EP`). */
  async start(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v2/EP`;
  }

  async close(): Promise<void> {
    for (const release of this.held) release();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** Queues a job object ({id, input, …}) for the next take. */
  enqueue(job: Record<string, unknown>): void {
    this.queue.push(job);
    for (const release of [...this.held]) release();
  }

  /** Answers the open job-stop poll (or the next one) with these ids. */
  stop(ids: string[]): void {
    if (this.stopWaiter) {
      this.stopWaiter(ids);
      this.stopWaiter = undefined;
    } else this.pendingStops.push(...ids);
  }

  /** Resolves once `ready(requests)` holds; rejects after `timeoutMs`. */
  until(ready: (requests: Recorded[]) => boolean, timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!ready(this.requests)) return;
        clearTimeout(timer);
        this.watchers.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.watchers.delete(check);
        reject(new Error(`the worker's requests never satisfied the condition:\n${this.requests.map((r) => `${r.method} ${r.path} ${r.body}`).join("\n")}`));
      }, timeoutMs);
      this.watchers.add(check);
      check();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://localhost");
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const route = url.pathname.split("/")[3] ?? "";
      this.requests.push({
        t: Date.now() - this.started, method: req.method ?? "", route, path: url.pathname,
        query: Object.fromEntries(url.searchParams), headers: req.headers, body: Buffer.concat(chunks).toString(),
      });
      for (const watch of [...this.watchers]) watch();
      if (route === "job-take" || route === "job-take-batch") return this.take(res, route === "job-take" ? 1 : Number(url.searchParams.get("batch_size")), route === "job-take-batch");
      if (route === "job-stop") return this.stopPoll(res);
      json(res, 200, {});
    });
  }

  private take(res: ServerResponse, max: number, batch: boolean): void {
    const answer = () => {
      const jobs = this.queue.splice(0, max);
      for (const job of jobs) this.handedOut.set(String(job.id), Date.now());
      if (jobs.length === 0) return noContent(res);
      json(res, 200, batch ? jobs : jobs[0]);
    };
    if (this.queue.length > 0) return answer();
    const release = () => {
      this.held.delete(release);
      clearTimeout(timer);
      answer();
    };
    const timer = setTimeout(release, this.holdMs);
    this.held.add(release);
    res.on("close", () => {
      this.held.delete(release);
      clearTimeout(timer);
    });
  }

  private stopPoll(res: ServerResponse): void {
    if (this.pendingStops.length > 0) {
      json(res, 200, { jobsToStop: this.pendingStops.splice(0) });
      return;
    }
    const timer = setTimeout(() => {
      this.stopWaiter = undefined;
      noContent(res);
    }, this.holdMs);
    this.stopWaiter = (ids) => {
      clearTimeout(timer);
      json(res, 200, { jobsToStop: ids });
    };
    res.on("close", () => clearTimeout(timer));
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) }).end(text);
}

function noContent(res: ServerResponse): void {
  if (!res.destroyed) res.writeHead(204).end();
}
