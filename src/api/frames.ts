/**
 * The frames of the worker channel (see worker-channel.ts): a 4-byte big-endian length of a JSON header,
 * a 4-byte big-endian length of a payload, the header's UTF-8 text, then the payload's bytes.
 */
export interface Frame {
  header: unknown;
  payload: Buffer;
}

/** A frame's header: what the reader keeps when its payload was over the limit and thrown away. */
export interface Oversized {
  header: unknown;
  oversized: number;
}

const PREFIX = 8;

export function encodeFrame(header: unknown, payload: string | Buffer = ""): Buffer {
  const head = Buffer.from(JSON.stringify(header));
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const prefix = Buffer.allocUnsafe(PREFIX);
  prefix.writeUInt32BE(head.length, 0);
  prefix.writeUInt32BE(body.length, 4);
  return Buffer.concat([prefix, head, body]);
}

/** A frame that cannot be read: the connection is of no further use. */
export class FrameError extends Error {}

/**
 * Cuts the bytes of a connection into frames. A payload over `payloadLimit` is counted and thrown away as
 * it arrives, never gathered; a header over `headerLimit` or not JSON is a FrameError. Bytes are kept
 * as the pieces they came in until a frame is whole, so a large payload is copied once.
 */
export class FrameReader {
  private pieces: Buffer[] = [];
  private buffered = 0;
  /** The frame being read, once its prefix and header are in. */
  private current: { header: unknown; payloadBytes: number } | undefined;
  /** Payload bytes still to throw away. */
  private skipping = 0;

  constructor(
    private readonly headerLimit: number,
    private readonly payloadLimit: number,
  ) {}

  /** Whether a frame was begun and not finished. */
  get midFrame(): boolean {
    return this.buffered > 0 || this.current !== undefined || this.skipping > 0;
  }

  /** The frames (and thrown-away payloads) completed by `chunk`, in order. */
  push(chunk: Buffer): (Frame | Oversized)[] {
    const out: (Frame | Oversized)[] = [];
    if (this.skipping > 0) {
      const skipped = Math.min(this.skipping, chunk.length);
      this.skipping -= skipped;
      chunk = chunk.subarray(skipped);
    }
    if (chunk.length > 0) {
      this.pieces.push(chunk);
      this.buffered += chunk.length;
    }
    for (;;) {
      if (!this.current) {
        if (this.buffered < PREFIX) return out;
        const prefix = this.peek(PREFIX);
        const headerBytes = prefix.readUInt32BE(0);
        const payloadBytes = prefix.readUInt32BE(4);
        if (headerBytes > this.headerLimit) throw new FrameError(`a frame header of ${headerBytes} bytes is over the ${this.headerLimit} bytes allowed`);
        if (this.buffered < PREFIX + headerBytes) return out;
        this.take(PREFIX);
        const text = this.take(headerBytes).toString("utf8");
        let header: unknown;
        try {
          header = JSON.parse(text);
        } catch {
          throw new FrameError(`a frame header is not JSON: ${text.slice(0, 100)}`);
        }
        if (payloadBytes > this.payloadLimit) {
          const skipped = Math.min(payloadBytes, this.buffered);
          this.take(skipped);
          this.skipping = payloadBytes - skipped;
          out.push({ header, oversized: payloadBytes });
          continue;
        }
        this.current = { header, payloadBytes };
      }
      if (this.buffered < this.current.payloadBytes) return out;
      out.push({ header: this.current.header, payload: this.take(this.current.payloadBytes) });
      this.current = undefined;
    }
  }

  /** The first `n` buffered bytes, left in place. */
  private peek(n: number): Buffer {
    if ((this.pieces[0] as Buffer).length < n) this.pieces = [Buffer.concat(this.pieces)];
    return (this.pieces[0] as Buffer).subarray(0, n);
  }

  /** Removes and returns the first `n` buffered bytes. */
  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    let first = this.pieces[0] as Buffer;
    if (first.length < n) {
      // Joins only as many pieces as the frame needs.
      let joined = 0;
      let count = 0;
      while (joined < n) joined += (this.pieces[count++] as Buffer).length;
      first = Buffer.concat(this.pieces.splice(0, count, Buffer.alloc(0)), joined);
      this.pieces[0] = first;
    }
    this.buffered -= n;
    if (first.length === n) this.pieces.shift();
    else this.pieces[0] = first.subarray(n);
    return first.subarray(0, n);
  }
}
