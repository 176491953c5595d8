// Staging reads the source once and records, for each batch, where its bytes begin and end and their
// SHA-256, without holding the file. The tap sees every decompressed chunk on its way to readLines
// (which numbers lines by the same newlines) and keeps line offsets and unhashed bytes only from the
// earliest line a batch may still begin on (`settle`): a chunk plus one unfinished record.
import { createHash, type Hash } from "node:crypto";

export interface ByteRange {
  end: number;
  checksum: Buffer;
}

export class LineTap {
  /** Bytes seen so far. */
  private pos = 0;
  /** starts[i - head] is the offset of line `base + i - head`; entries before `head` are spent. */
  private starts: number[] = [0];
  private head = 0;
  private base = 1;
  /** Bytes from offset `keptFrom` to `pos`, not yet hashed or dropped. */
  private kept: Uint8Array[] = [];
  private keptFrom = 0;
  private hash: Hash | undefined;

  async *wrap(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const c of chunks) {
      for (let i = c.indexOf(10); i >= 0; i = c.indexOf(10, i + 1)) this.starts.push(this.pos + i + 1);
      this.kept.push(c);
      this.pos += c.length;
      yield c;
    }
  }

  /** Offset of the first byte of line `no`. */
  offsetOf(no: number): number {
    const o = this.starts[this.head + no - this.base];
    if (no < this.base || o === undefined) throw new Error(`line ${no} is not (or no longer) known`);
    return o;
  }

  /** The first batch begins at line `no`: bytes before it (the header) belong to no batch. */
  begin(no: number): void {
    this.consume(this.offsetOf(no));
    this.hash = createHash("sha256");
  }

  /** The batch being hashed ends where line `no` begins, and the next one begins there. */
  cut(no: number): ByteRange {
    const end = this.offsetOf(no);
    this.consume(end);
    const checksum = this.hash!.digest();
    this.hash = createHash("sha256");
    return { end, checksum };
  }

  /** No batch will begin before line `no` (the parser has settled every earlier line). */
  settle(no: number): void {
    const i = Math.min(this.head + no - this.base, this.starts.length - 1);
    if (i <= this.head) return;
    this.consume(this.starts[i]!);
    this.base += i - this.head;
    this.head = i;
    // Spent entries are dropped in bulk, so settling after every chunk stays linear.
    if (this.head > 4096 && this.head * 2 > this.starts.length) {
      this.starts = this.starts.slice(this.head);
      this.head = 0;
    }
  }

  /** The last batch ends with the source. */
  finish(): ByteRange {
    this.consume(this.pos);
    return { end: this.pos, checksum: this.hash!.digest() };
  }

  /** Hashes (or, before the first batch, drops) the kept bytes up to offset `to`. */
  private consume(to: number): void {
    while (this.keptFrom < to) {
      const c = this.kept[0]!;
      const n = Math.min(c.length, to - this.keptFrom);
      this.hash?.update(n === c.length ? c : c.subarray(0, n));
      if (n === c.length) this.kept.shift();
      else this.kept[0] = c.subarray(n);
      this.keptFrom += n;
    }
  }
}
