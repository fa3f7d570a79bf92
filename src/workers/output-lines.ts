import { isUtf8 } from "node:buffer";

/** The longest line kept whole; a longer one keeps its first and last halves of this. */
export const MAX_LINE_BYTES = 64 * 1024;
const HALF = MAX_LINE_BYTES / 2;

/**
 * Splits a worker's raw output into lines as it arrives, holding at most `MAX_LINE_BYTES` of any line: a
 * longer line keeps its head and tail around a note of the bytes dropped, so a handler printing one
 * 200 MB line costs 64 KiB. Bytes that are not UTF-8 are shown as `\xNN` rather than silently replaced.
 *
 * Not execa's own line splitting, which gathers a whole line before handing it on, however long.
 */
export class OutputLines {
  private head: Buffer[] = [];
  private headBytes = 0;
  /** Past the head, the newest bytes of an overlong line, at most HALF once trimmed. */
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private dropped = 0;

  constructor(private readonly onLine: (line: string) => void) {}

  /** Takes one chunk of output; calls `onLine` for each line it completes. */
  push(chunk: Uint8Array): void {
    let buffer = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let end = buffer.indexOf(10); end !== -1; end = buffer.indexOf(10)) {
      const whole = this.headBytes === 0 && this.dropped === 0 && end <= MAX_LINE_BYTES;
      if (whole) this.onLine(withoutCr(decode(buffer.subarray(0, end))));
      else {
        this.add(buffer.subarray(0, end));
        this.emit();
      }
      buffer = buffer.subarray(end + 1);
    }
    if (buffer.length > 0) this.add(buffer);
  }

  /** The output ended: a last line without its newline is a line too. */
  end(): void {
    if (this.headBytes > 0 || this.tailBytes > 0 || this.dropped > 0) this.emit();
  }

  private add(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.tailBytes === 0 && this.dropped === 0 && this.headBytes + bytes.length <= MAX_LINE_BYTES) {
      this.head.push(Buffer.from(bytes));
      this.headBytes += bytes.length;
      return;
    }
    if (this.tailBytes === 0 && this.dropped === 0) {
      // The line just outgrew the limit: its first half stays the head, the rest starts the tail.
      const whole = Buffer.concat([...this.head, bytes]);
      const cut = charStart(whole, HALF);
      this.head = [whole.subarray(0, cut)];
      this.headBytes = cut;
      bytes = whole.subarray(cut);
    }
    this.tail.push(Buffer.from(bytes.length > HALF ? bytes.subarray(bytes.length - HALF) : bytes));
    this.dropped += Math.max(0, bytes.length - HALF);
    this.tailBytes += Math.min(bytes.length, HALF);
    while (this.tailBytes - (this.tail[0]?.length ?? 0) >= HALF) {
      const first = this.tail.shift() as Buffer;
      this.tailBytes -= first.length;
      this.dropped += first.length;
    }
  }

  private emit(): void {
    let line: string;
    if (this.tailBytes === 0 && this.dropped === 0) {
      line = decode(this.head.length === 1 ? (this.head[0] as Buffer) : Buffer.concat(this.head));
    } else {
      const tail = Buffer.concat(this.tail);
      // The tail starts at a character: the bytes before it count as dropped.
      const over = Math.max(0, tail.length - HALF);
      const start = charStart(tail, over);
      const dropped = this.dropped + start;
      line = `${decode(Buffer.concat(this.head))} … [${dropped} bytes of this line dropped: a line keeps its first and last ${HALF / 1024} KiB] … ${decode(tail.subarray(start))}`;
    }
    this.head = [];
    this.tail = [];
    this.headBytes = this.tailBytes = this.dropped = 0;
    this.onLine(withoutCr(line));
  }
}

const withoutCr = (line: string): string => (line.endsWith("\r") ? line.slice(0, -1) : line);

/** The first index at or after `at` that starts a UTF-8 character (continuation bytes are 10xxxxxx). */
function charStart(bytes: Buffer, at: number): number {
  let index = at;
  while (index < bytes.length && index < at + 3 && ((bytes[index] as number) & 0xc0) === 0x80) index++;
  return index;
}

/** UTF-8 text; each byte of an invalid sequence becomes `\xNN`, so nothing is replaced unseen. */
export function decode(bytes: Buffer): string {
  if (isUtf8(bytes)) return bytes.toString("utf8");
  let text = "";
  let start = 0;
  let index = 0;
  while (index < bytes.length) {
    const length = sequenceLength(bytes, index);
    if (length > 0) {
      index += length;
      continue;
    }
    text += `${bytes.toString("utf8", start, index)}\\x${(bytes[index] as number).toString(16).padStart(2, "0")}`;
    start = ++index;
  }
  return text + bytes.toString("utf8", start);
}

/** The length of the valid UTF-8 sequence at `index`, or 0 (RFC 3629: no overlongs, surrogates or > U+10FFFF). */
function sequenceLength(bytes: Buffer, index: number): number {
  const first = bytes[index] as number;
  if (first < 0x80) return 1;
  const length = first >= 0xc2 && first <= 0xdf ? 2 : first >= 0xe0 && first <= 0xef ? 3 : first >= 0xf0 && first <= 0xf4 ? 4 : 0;
  if (length === 0 || index + length > bytes.length) return 0;
  for (let k = 1; k < length; k++) if (((bytes[index + k] as number) & 0xc0) !== 0x80) return 0;
  const second = bytes[index + 1] as number;
  if ((first === 0xe0 && second < 0xa0) || (first === 0xed && second > 0x9f) || (first === 0xf0 && second < 0x90) || (first === 0xf4 && second > 0x8f)) return 0;
  return length;
}
