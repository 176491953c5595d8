// Byte stream -> numbered text lines, in memory bounded by one chunk plus one line. Decoding is strict
// UTF-8: a line that is not valid UTF-8 becomes an error item naming its line, instead of silently
// turning into replacement characters in the target table.
import { InputError } from "./errors.ts";

export type LineItem = { no: number; text: string } | { no: number; error: string };

export const MAX_LINE_BYTES = 1 << 20;

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export async function* readLines(
  chunks: AsyncIterable<Uint8Array>,
  maxLineBytes = MAX_LINE_BYTES,
): AsyncGenerator<LineItem[]> {
  let carry: Uint8Array = new Uint8Array(0);
  let nextNo = 1;
  let offset = 0;
  const tooLong = () =>
    new InputError(
      `line ${nextNo} is longer than ${maxLineBytes} bytes; records must be one per line (CSV or JSON Lines)`,
    );
  for await (const chunk of chunks) {
    const buf = carry.length > 0 ? concat(carry, chunk) : chunk;
    const last = buf.lastIndexOf(10);
    if (last < 0) {
      if (buf.length > maxLineBytes) throw tooLong();
      carry = buf;
      continue;
    }
    const complete = buf.subarray(0, last + 1);
    const out = decodeLines(complete, nextNo, offset);
    nextNo += out.length;
    offset += complete.length;
    // Copy the tail so the (possibly large) chunk it came from can be collected.
    carry = buf.slice(last + 1);
    if (carry.length > maxLineBytes) throw tooLong();
    if (out.length > 0) yield out;
  }
  if (carry.length > 0) yield decodeLines(carry, nextNo, offset);
}

/** Splits bytes ending at a line boundary (or at end of file) into lines, decoding them strictly. */
function decodeLines(bytes: Uint8Array, firstNo: number, offset: number): LineItem[] {
  let text: string | undefined;
  try {
    text = strict.decode(bytes);
  } catch {
    return decodeEachLine(bytes, firstNo, offset);
  }
  const parts = text.split("\n");
  if (parts[parts.length - 1] === "") parts.pop();
  return parts.map((t, i) => ({ no: firstNo + i, text: clean(t, firstNo + i) }));
}

/** The slow path, taken only for a chunk that has invalid UTF-8 in it: find which lines. */
function decodeEachLine(bytes: Uint8Array, firstNo: number, offset: number): LineItem[] {
  const out: LineItem[] = [];
  let start = 0;
  let no = firstNo;
  while (start < bytes.length) {
    let end = bytes.indexOf(10, start);
    if (end < 0) end = bytes.length;
    try {
      out.push({ no, text: clean(strict.decode(bytes.subarray(start, end)), no) });
    } catch {
      out.push({
        no,
        error: `line ${no} (byte ${offset + start}) is not valid UTF-8; save the file with UTF-8 encoding`,
      });
    }
    start = end + 1;
    no++;
  }
  return out;
}

function clean(line: string, no: number): string {
  const t = line.endsWith("\r") ? line.slice(0, -1) : line;
  return no === 1 && t.startsWith("\uFEFF") ? t.slice(1) : t;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
