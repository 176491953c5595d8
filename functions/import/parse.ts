// Lines -> records for the two supported formats. A record that cannot be read becomes an error item
// with its line number and what to fix; the rest of the file is still imported. Only problems that
// make the whole file unreadable (no header, missing required columns) throw InputError.
import { storableText } from "../shared/pg-text.ts";
import { InputError } from "./errors.ts";
import type { LineItem } from "./lines.ts";

// Postgres text and jsonb cannot hold U+0000; one such record would fail its whole staging chunk.
const NUL_MESSAGE = (line: number) =>
  `line ${line} contains a NUL character (U+0000), which cannot be stored; remove it`;

// A \ud800-\udfff escape without its pair parses to a string that is not text: encoded for the
// database it would silently become U+FFFD.
const SURROGATE_MESSAGE = (line: number) =>
  `line ${line} contains an unpaired surrogate escape (\\ud800 to \\udfff without its pair), which is not text; fix the escape`;
const LONE_SURROGATE = /\p{Cs}/u;

/** Whether any string in a parsed value, key or value, passes `test`. */
function anyString(v: unknown, test: (s: string) => boolean): boolean {
  if (typeof v === "string") return test(v);
  if (typeof v !== "object" || v === null) return false;
  return Object.entries(v).some(([k, x]) => test(k) || anyString(x, test));
}

/** Deeper than any record needs; a value nested past it would overflow the stack when serialised. */
export const MAX_JSON_DEPTH = 64;

/** Whether a parsed value nests objects or arrays more than `max` levels deep; walks without recursion. */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (depth > max) return true;
    for (const x of Object.values(v)) if (typeof x === "object" && x !== null) stack.push([x, depth + 1]);
  }
  return false;
}

export type ParsedItem =
  | { kind: "record"; lineNo: number; raw: Record<string, unknown> }
  | { kind: "error"; lineNo: number; message: string };

export interface RecordParser {
  push(lines: LineItem[]): ParsedItem[];
  /** First line of a record still being read; every later record starts on or after it. */
  readonly pendingFrom: number | undefined;
  /** Call at end of input; returns what is left. */
  end(): ParsedItem[];
}

type FieldsResult = { fields: string[] } | { error: string } | { incomplete: true };

/** Parses one CSV record (RFC 4180: comma separated, `"` quoting, `""` for a quote inside quotes). */
export function parseCsvRecord(s: string): FieldsResult {
  if (!s.includes('"')) return { fields: s.split(",") };
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (s[i] === '"') {
      let value = "";
      let j = i + 1;
      for (;;) {
        const q = s.indexOf('"', j);
        if (q < 0) return { incomplete: true };
        value += s.slice(j, q);
        if (s[q + 1] === '"') {
          value += '"';
          j = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      fields.push(value);
      if (i === s.length) return { fields };
      if (s[i] !== ",") {
        return {
          error: `field ${fields.length} has ${JSON.stringify(s[i])} after its closing quote; inside a quoted field write a quote as ""`,
        };
      }
    } else {
      const c = s.indexOf(",", i);
      const value = s.slice(i, c < 0 ? s.length : c);
      if (value.includes('"')) {
        return {
          error: `field ${fields.length + 1} contains a double quote but does not start with one; wrap the field in double quotes and write inner quotes as ""`,
        };
      }
      fields.push(value);
      if (c < 0) return { fields };
      i = c;
    }
    i++;
    if (i === s.length) {
      fields.push("");
      return { fields };
    }
  }
}

/** A quoted field may span lines, but not without bound: past these a missing quote is assumed. */
export const MAX_RECORD_LINES = 1000;
export const MAX_RECORD_CHARS = 1 << 20;

export class CsvParser implements RecordParser {
  private header: string[] | undefined;
  private pending: { no: number; text: string }[] = [];
  private pendingChars = 0;
  private readonly required: readonly string[];

  /** `header`: the columns read from the file's first record earlier, for a parser that starts on a
   *  later line (a batch step reading its own range). */
  constructor(requiredFields: readonly string[] = [], header?: readonly string[]) {
    this.required = requiredFields;
    this.header = header ? [...header] : undefined;
  }

  /** The header's column names, once read. */
  get columns(): readonly string[] | undefined {
    return this.header;
  }

  /** A record spanning lines (a quoted field with newlines) is pending until its quote closes. */
  get pendingFrom(): number | undefined {
    return this.pending[0]?.no;
  }

  push(lines: LineItem[]): ParsedItem[] {
    const out: ParsedItem[] = [];
    for (const line of lines) this.feed(line, out);
    return out;
  }

  end(): ParsedItem[] {
    const out: ParsedItem[] = [];
    while (this.pending.length > 0) {
      const first = this.pending[0]!;
      this.resync(
        out,
        first.no,
        "a quoted field is never closed before the end of the file; close it with a double quote",
      );
    }
    if (!this.header)
      throw new InputError("the file is empty; a CSV import needs a header row and at least one record");
    return out;
  }

  private feed(line: LineItem, out: ParsedItem[]): void {
    if ("error" in line) {
      if (this.pending.length > 0) {
        const start = this.pending[0]!.no;
        this.pending = [];
        this.pendingChars = 0;
        out.push({
          kind: "error",
          lineNo: start,
          message: `the record starting on line ${start} runs into line ${line.no}: ${line.error}`,
        });
      } else {
        if (!this.header) throw new InputError(`the header row is unreadable: ${line.error}`);
        out.push({ kind: "error", lineNo: line.no, message: line.error });
      }
      return;
    }
    if (this.pending.length === 0 && line.text.trim() === "") return;
    this.pending.push(line);
    this.pendingChars += line.text.length + 1;
    const start = this.pending[0]!.no;
    const text = this.pending.length === 1 ? line.text : this.pending.map((l) => l.text).join("\n");
    const r = parseCsvRecord(text);
    if ("incomplete" in r) {
      if (this.pending.length >= MAX_RECORD_LINES || this.pendingChars > MAX_RECORD_CHARS) {
        this.resync(
          out,
          start,
          `a quoted field opened here is not closed within ${MAX_RECORD_LINES} lines; close it with a double quote`,
        );
      }
      return;
    }
    if ("error" in r) {
      this.resync(out, start, r.error);
      return;
    }
    this.pending = [];
    this.pendingChars = 0;
    if (text.includes("\u0000")) {
      if (!this.header) throw new InputError(`the header row: ${NUL_MESSAGE(start)}`);
      out.push({ kind: "error", lineNo: start, message: NUL_MESSAGE(start) });
      return;
    }
    if (!this.header) {
      this.header = this.checkHeader(r.fields);
      return;
    }
    if (r.fields.length !== this.header.length) {
      out.push({
        kind: "error",
        lineNo: start,
        message: `line ${start} has ${r.fields.length} fields but the header has ${this.header.length} (${this.header.join(", ")}); quote fields that contain commas`,
      });
      return;
    }
    const raw: Record<string, unknown> = {};
    for (let k = 0; k < this.header.length; k++) raw[this.header[k]!] = r.fields[k];
    out.push({ kind: "record", lineNo: start, raw });
  }

  /** Reports the record starting at `start` and re-reads the lines after it as new records. */
  private resync(out: ParsedItem[], start: number, message: string): void {
    if (!this.header) throw new InputError(`the header row (line ${start}) is malformed: ${message}`);
    out.push({ kind: "error", lineNo: start, message: `line ${start}: ${message}` });
    const rest = this.pending.slice(1);
    this.pending = [];
    this.pendingChars = 0;
    for (const l of rest) this.feed(l, out);
  }

  private checkHeader(fields: string[]): string[] {
    const names = fields.map((f) => f.trim().toLowerCase());
    const empty = names.indexOf("");
    if (empty >= 0) throw new InputError(`header column ${empty + 1} has no name; every column needs one`);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup)
      throw new InputError(`header column ${JSON.stringify(dup)} appears twice; column names must be unique`);
    const missing = this.required.filter((f) => !names.includes(f));
    if (missing.length > 0) {
      throw new InputError(
        `the header (${names.join(", ")}) lacks the required column${missing.length > 1 ? "s" : ""} ${missing.join(", ")}`,
      );
    }
    return names;
  }
}

export class JsonLinesParser implements RecordParser {
  private seenLine = false;
  /** Every line is settled as it is read. */
  readonly pendingFrom = undefined;

  push(lines: LineItem[]): ParsedItem[] {
    const out: ParsedItem[] = [];
    for (const line of lines) {
      if ("error" in line) {
        this.seenLine = true;
        out.push({ kind: "error", lineNo: line.no, message: line.error });
        continue;
      }
      if (line.text.trim() === "") continue;
      this.seenLine = true;
      let value: unknown;
      try {
        value = JSON.parse(line.text);
      } catch (err) {
        // The parser's message quotes the line, which may hold a NUL that the message's row cannot.
        const why = storableText((err as Error).message);
        out.push({
          kind: "error",
          lineNo: line.no,
          message: `line ${line.no} is not valid JSON (${why}); each line must be one JSON object`,
        });
        continue;
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        const kind = value === null ? "null" : Array.isArray(value) ? "an array" : `a ${typeof value}`;
        out.push({
          kind: "error",
          lineNo: line.no,
          message: `line ${line.no} is ${kind}, not a JSON object`,
        });
        continue;
      }
      if (nestedDeeperThan(value, MAX_JSON_DEPTH)) {
        out.push({
          kind: "error",
          lineNo: line.no,
          message: `line ${line.no} nests objects or arrays more than ${MAX_JSON_DEPTH} levels deep; flatten the record`,
        });
        continue;
      }
      // The escape is the cheap filter; only the parsed strings tell a NUL from an escaped backslash.
      if (line.text.includes("\\u0000") && anyString(value, (x) => x.includes("\u0000"))) {
        out.push({ kind: "error", lineNo: line.no, message: NUL_MESSAGE(line.no) });
        continue;
      }
      if (/\\u[dD][89a-fA-F]/.test(line.text) && anyString(value, (x) => LONE_SURROGATE.test(x))) {
        out.push({ kind: "error", lineNo: line.no, message: SURROGATE_MESSAGE(line.no) });
        continue;
      }
      out.push({ kind: "record", lineNo: line.no, raw: value as Record<string, unknown> });
    }
    return out;
  }

  end(): ParsedItem[] {
    if (!this.seenLine)
      throw new InputError("the file is empty; a JSON Lines import needs one JSON object per line");
    return [];
  }
}
