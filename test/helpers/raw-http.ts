// HTTP by hand over a TCP socket, for what a well-behaved client never sends: half requests, resets,
// upgrade heads, bodies that stop.
import { type Socket, connect } from "node:net";
import { onTestFinished } from "vitest";

export interface RawConnection {
  socket: Socket;
  /** Everything the server sent so far, as latin1 text. */
  received(): string;
  /** Resolves once the server sent something `ready` accepts; rejects after `timeoutMs` (a hang). */
  until(what: string, ready: (text: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Resolves when the connection is closed, with everything received. */
  closed: Promise<string>;
}

/** Opens a loopback connection to `port`; destroyed after the test whatever happens. */
export async function rawConnection(port: number): Promise<RawConnection> {
  const socket = connect(port, "127.0.0.1");
  onTestFinished(() => void socket.destroy());
  socket.on("error", () => {});
  let text = "";
  const watchers = new Set<() => void>();
  socket.on("data", (data: Buffer) => {
    text += data.toString("latin1");
    for (const watch of [...watchers]) watch();
  });
  const closed = new Promise<string>((resolve) => socket.once("close", () => resolve(text)));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return {
    socket,
    received: () => text,
    closed,
    until(what, ready, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!ready(text)) return;
          clearTimeout(timer);
          watchers.delete(check);
          resolve(text);
        };
        const timer = setTimeout(() => {
          watchers.delete(check);
          reject(new Error(`the server never sent ${what} within ${timeoutMs} ms; it sent: ${JSON.stringify(text.slice(0, 500))}`));
        }, timeoutMs);
        watchers.add(check);
        socket.once("close", check);
        check();
      });
    },
  };
}

export interface RawResponse {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** The body parsed as JSON; undefined when empty. */
  body: any;
}

/** The complete responses in `text`, in order (bodies with Content-Length only); interim 1xx ones included. */
export function responses(text: string): RawResponse[] {
  const found: RawResponse[] = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    if (end === -1) return found;
    const [statusLine, ...lines] = rest.slice(0, end).split("\r\n");
    const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]));
    const length = Number(headers["content-length"] ?? 0);
    if (rest.length < end + 4 + length) return found;
    const raw = Buffer.from(rest.slice(end + 4, end + 4 + length), "latin1").toString("utf8");
    found.push({ status: Number(statusLine?.split(" ")[1]), headers, body: raw ? JSON.parse(raw) : undefined });
    rest = rest.slice(end + 4 + length);
  }
}

/** A request head as a client writes it: request line, headers, blank line. */
export function head(requestLine: string, headers: Record<string, string | number>): string {
  return `${requestLine}\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}`).join("\r\n")}\r\n\r\n`;
}
