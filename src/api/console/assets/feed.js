// The live feed: one WebSocket per endpoint (SPEC §6), reopened by itself with a growing delay when the
// emulator goes away, so a restarted emulator is picked up without reloading the page.

import { apiKey } from "./api.js";

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5000;

/**
 * Follows the endpoints' feeds: `onEvent(endpointId, event)` for each event, `onState(open)` when every
 * feed is open or one was lost, `onReopen()` after a lost feed came back (what happened meanwhile must be
 * read again).
 */
export class Feed {
  constructor({ onEvent, onState, onReopen }) {
    this.handlers = { onEvent, onState, onReopen };
    this.sockets = new Map();
  }

  /** Follows exactly these endpoints. */
  follow(endpointIds) {
    for (const [id, entry] of this.sockets) {
      if (!endpointIds.includes(id)) {
        entry.closed = true;
        clearTimeout(entry.timer);
        entry.socket?.close();
        this.sockets.delete(id);
      }
    }
    for (const id of endpointIds) if (!this.sockets.has(id)) this.open(id, { delay: FIRST_DELAY_MS, closed: false, lost: false });
  }

  open(id, entry) {
    this.sockets.set(id, entry);
    const key = apiKey();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const url = `${scheme}://${location.host}/v2/${encodeURIComponent(id)}/ws${key ? `?key=${encodeURIComponent(key)}` : ""}`;
    const socket = new WebSocket(url);
    entry.socket = socket;
    socket.addEventListener("open", () => {
      entry.delay = FIRST_DELAY_MS;
      const wasLost = entry.lost;
      entry.lost = false;
      this.report();
      if (wasLost) this.handlers.onReopen();
    });
    socket.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      this.handlers.onEvent(id, event);
    });
    socket.addEventListener("close", () => {
      if (entry.closed) return;
      entry.lost = true;
      this.report();
      entry.timer = setTimeout(() => this.open(id, entry), entry.delay);
      entry.delay = Math.min(MAX_DELAY_MS, entry.delay * 2);
    });
  }

  report() {
    const entries = [...this.sockets.values()];
    this.handlers.onState(entries.length > 0 && entries.every((entry) => entry.socket?.readyState === WebSocket.OPEN));
  }
}
