// Byte stream -> numbered text lines, in memory bounded by one chunk plus one line. Decoding is strict
// UTF-8: a line that is not valid UTF-8 becomes an error item naming its line, instead of silently
// turning into replacement characters in the target table.
export type LineItem = { no: number; text: string } | { no: number; error: string };

export const MAX_LINE_BYTES = 1 << 20;

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Where the bytes start in the file: a batch step reads its own range, which starts at a line. */
export interface LinePosition {
  no: number;
  offset: number;
}

export async function* readLines(
  chunks: AsyncIterable<Uint8Array>,
  maxLineBytes = MAX_LINE_BYTES,
  from: LinePosition = { no: 1, offset: 0 },
): AsyncGenerator<LineItem[]> {
  let carry: Uint8Array = new Uint8Array(0);
  let nextNo = from.no;
  let offset = from.offset;
  // An over-long line is one bad record, not a bad file: its bytes are dropped as they stream past
  // (memory stays bounded) and it becomes an error item once its end is found.
  let skipped: number | undefined;
  const tooLong = (bytes: number): LineItem => ({
    no: nextNo,
    error: tooLongMessage(nextNo, bytes, maxLineBytes),
  });
  for await (const chunk of chunks) {
    let buf = carry.length > 0 ? concat(carry, chunk) : chunk;
    carry = new Uint8Array(0);
    const out: LineItem[] = [];
    if (skipped !== undefined) {
      const nl = buf.indexOf(10);
      if (nl < 0) {
        skipped += buf.length;
        continue;
      }
      out.push(tooLong(skipped + nl));
      nextNo++;
      offset += skipped + nl + 1;
      skipped = undefined;
      buf = buf.subarray(nl + 1);
    }
    const last = buf.lastIndexOf(10);
    if (last >= 0) {
      const complete = buf.subarray(0, last + 1);
      const lines = decodeLines(complete, nextNo, offset, maxLineBytes);
      out.push(...lines);
      nextNo += lines.length;
      offset += complete.length;
    }
    // Copy the tail so the (possibly large) chunk it came from can be collected.
    const tail = buf.slice(last + 1);
    if (tail.length > maxLineBytes) skipped = tail.length;
    else carry = tail;
    if (out.length > 0) yield out;
  }
  if (skipped !== undefined) yield [tooLong(skipped)];
  else if (carry.length > 0) yield decodeLines(carry, nextNo, offset, maxLineBytes);
}

function tooLongMessage(no: number, bytes: number, max: number): string {
  return `line ${no} is ${bytes} bytes long, more than the ${max} a record may have; records must be one per line (CSV or JSON Lines)`;
}

/** Splits bytes ending at a line boundary (or at end of file) into lines, decoding them strictly. */
function decodeLines(bytes: Uint8Array, firstNo: number, offset: number, maxLineBytes: number): LineItem[] {
  let text: string | undefined;
  try {
    text = strict.decode(bytes);
  } catch {
    return decodeEachLine(bytes, firstNo, offset, maxLineBytes);
  }
  const parts = text.split("\n");
  if (parts[parts.length - 1] === "") parts.pop();
  return parts.map((t, i) => {
    const no = firstNo + i;
    // A long line that arrived inside one big chunk; characters never outnumber bytes, so only a line
    // this long can be over the limit.
    if (t.length > maxLineBytes / 4) {
      const len = Buffer.byteLength(t);
      if (len > maxLineBytes) return { no, error: tooLongMessage(no, len, maxLineBytes) };
    }
    return { no, text: clean(t, no) };
  });
}

/** The slow path, taken only for a chunk that has invalid UTF-8 in it: find which lines. */
function decodeEachLine(
  bytes: Uint8Array,
  firstNo: number,
  offset: number,
  maxLineBytes: number,
): LineItem[] {
  const out: LineItem[] = [];
  let start = 0;
  let no = firstNo;
  while (start < bytes.length) {
    let end = bytes.indexOf(10, start);
    if (end < 0) end = bytes.length;
    if (end - start > maxLineBytes) {
      out.push({ no, error: tooLongMessage(no, end - start, maxLineBytes) });
      start = end + 1;
      no++;
      continue;
    }
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
