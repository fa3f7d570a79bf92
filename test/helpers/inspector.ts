import WebSocket from "ws";

interface Message {
  id?: number;
  method?: string;
  params?: any;
  result?: any;
  error?: { message: string };
}

/** A client of Node's inspector protocol over its WebSocket, as Chrome DevTools and VS Code speak it. */
export class InspectorClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (result: any) => void; reject: (error: Error) => void }>();
  private readonly events: Message[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const message = JSON.parse(String(data)) as Message;
      if (message.id !== undefined) {
        const call = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error) call?.reject(new Error(message.error.message));
        else call?.resolve(message.result);
        return;
      }
      this.events.push(message);
      for (const wake of this.waiters) wake();
    });
  }

  /** Attaches to the first target the inspector on `port` lists (GET /json/list → webSocketDebuggerUrl). */
  static async attach(port: number): Promise<InspectorClient> {
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
    const ws = new WebSocket(targets[0]?.webSocketDebuggerUrl as string);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    ws.on("error", () => {});
    return new InspectorClient(ws);
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** The first event `method` (not yet taken) that `match` accepts; taken from the list. Rejects after `timeoutMs`. */
  event(method: string, match: (params: any) => boolean = () => true, timeoutMs = 20_000): Promise<any> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const index = this.events.findIndex((e) => e.method === method && match(e.params));
        if (index === -1) return;
        const [found] = this.events.splice(index, 1);
        finish();
        resolve(found?.params);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no ${method} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * Attaches, sets a breakpoint at `file`'s line `lineNumber` (0-based), and lets a waiting process run;
 * `paused()` resolves when the breakpoint is hit. Under --inspect-brk (a Node without --inspect-wait)
 * the process stops at its first line too: that stop is resumed.
 */
export async function attachWithBreakpoint(port: number, file: string, lineNumber: number): Promise<{ client: InspectorClient; paused: () => Promise<any> }> {
  const client = await InspectorClient.attach(port);
  await client.send("Debugger.enable");
  const { breakpointId } = await client.send("Debugger.setBreakpointByUrl", { url: new URL(`file://${file}`).href, lineNumber });
  await client.send("Runtime.runIfWaitingForDebugger");
  void client.event("Debugger.paused", (params) => params.reason === "Break on start").then(() => client.send("Debugger.resume"), () => {});
  return { client, paused: () => client.event("Debugger.paused", (params) => params.hitBreakpoints?.includes(breakpointId)) };
}
