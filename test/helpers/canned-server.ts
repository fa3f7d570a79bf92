// A loopback TCP server answering HTTP requests with canned bytes, for testing the workers' own HTTP
// clients: each way an answer may be framed, connections closed under a request, answers cut short.
import { type AddressInfo, type Server, type Socket, createServer } from "node:net";
import { onTestFinished } from "vitest";

/**
 * What to do with one request: bytes to write (a string as UTF-8, a Buffer as it is; a server saying
 * `Connection: close` in a string then ends the connection), "destroy" to close the connection without
 * answering, `{ thenDestroy }` to write part of an answer and then close it, `{ answer, later }` to answer
 * and, 50 ms later, write `later` on the idle connection, or undefined to leave the request unanswered.
 */
export type CannedReply = string | Buffer | "destroy" | { thenDestroy: string } | { answer: string; later: string } | undefined;

export interface CannedServer {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** Every request received (head and body), as latin1 text. */
  requests: string[];
  /** How many connections were accepted. */
  connections(): number;
  /** How many connections are open now. */
  open(): number;
}

/** Starts a server answering each request with `answer(request, connection number)`; closed after the test. */
export async function cannedServer(answer: (request: string, connection: number) => CannedReply): Promise<CannedServer> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let pending = "";
    socket.on("data", (chunk) => {
      pending += chunk.toString("latin1");
      for (;;) {
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(pending.slice(0, end))?.[1] ?? 0);
        if (pending.length < end + 4 + length) return;
        const request = pending.slice(0, end + 4 + length);
        pending = pending.slice(end + 4 + length);
        requests.push(request);
        const reply = answer(request, connection);
        if (reply === "destroy") socket.destroy();
        else if (Buffer.isBuffer(reply)) socket.write(reply);
        else if (typeof reply === "object" && "thenDestroy" in reply) socket.write(reply.thenDestroy, () => socket.destroy());
        else if (typeof reply === "object") {
          socket.write(reply.answer);
          setTimeout(() => socket.write(reply.later), 50);
        }
        // A server saying it closes does, after its answer.
        else if (reply?.includes("Connection: close")) socket.end(reply);
        else if (reply !== undefined) socket.write(reply);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, connections: () => connections, open: () => sockets.size };
}
