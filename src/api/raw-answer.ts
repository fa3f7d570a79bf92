import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";

/**
 * Writes `{"error": message}` as a whole HTTP answer straight to a socket, then closes it: for connections
 * that no response object owns (a request Node could not parse, an upgrade that is refused).
 */
export function endWithError(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ error: message });
  const head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
  socket.end(head + body, () => socket.destroy());
}
