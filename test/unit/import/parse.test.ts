import { describe, expect, it } from "vitest";
import { InputError } from "../../../functions/import/errors.ts";
import { type LineItem, readLines } from "../../../functions/import/lines.ts";
import {
  CsvParser,
  JsonLinesParser,
  MAX_JSON_DEPTH,
  MAX_RECORD_LINES,
  nestedDeeperThan,
  type ParsedItem,
  parseCsvRecord,
} from "../../../functions/import/parse.ts";

const enc = new TextEncoder();

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function lines(input: string | Uint8Array, chunk = 7): Promise<LineItem[]> {
  const bytes = typeof input === "string" ? enc.encode(input) : input;
  const out: LineItem[] = [];
  for await (const batch of readLines(chunked(bytes, chunk))) out.push(...batch);
  return out;
}

async function parseAll(
  parser: CsvParser | JsonLinesParser,
  text: string | Uint8Array,
): Promise<ParsedItem[]> {
  const items = parser.push(await lines(text));
  return [...items, ...parser.end()];
}

describe("readLines", () => {
  it("numbers lines across chunk boundaries, strips CRLF and a leading BOM", async () => {
    const got = await lines("\uFEFFa,b\r\nccc\n\nlast");
    expect(got).toEqual([
      { no: 1, text: "a,b" },
      { no: 2, text: "ccc" },
      { no: 3, text: "" },
      { no: 4, text: "last" },
    ]);
  });

  it("reports the exact line that is not UTF-8 and keeps the others", async () => {
    const bytes = new Uint8Array([...enc.encode("ok1\n"), 0x61, 0xff, 0x62, 10, ...enc.encode("ok3\n")]);
    const got = await lines(bytes, 3);
    expect(got[0]).toEqual({ no: 1, text: "ok1" });
    expect(got[1]).toMatchObject({ no: 2 });
    expect((got[1] as { error: string }).error).toMatch(/line 2 \(byte 4\) is not valid UTF-8/);
    expect(got[2]).toEqual({ no: 3, text: "ok3" });
  });

  it("turns a line longer than the limit into an error item without buffering it, and reads on", async () => {
    const tooLong = (no: number, bytes: number) => ({
      no,
      error: `line ${no} is ${bytes} bytes long, more than the 1000 a record may have; records must be one per line (CSV or JSON Lines)`,
    });
    const read = async (text: string, chunk: number) => {
      const out: LineItem[] = [];
      for await (const batch of readLines(chunked(enc.encode(text), chunk), 1000)) out.push(...batch);
      return out;
    };
    const text = `ok1\n${"x".repeat(5000)}\nok3\n${"y".repeat(1500)}`;
    const want = [{ no: 1, text: "ok1" }, tooLong(2, 5000), { no: 3, text: "ok3" }, tooLong(4, 1500)];
    // Streamed in small chunks, and arriving inside one chunk bigger than the limit.
    expect(await read(text, 100)).toEqual(want);
    expect(await read(text, 1 << 16)).toEqual(want);
  });
});

describe("parseCsvRecord", () => {
  it("handles quotes, doubled quotes, embedded commas and newlines, empty trailing fields", () => {
    expect(parseCsvRecord("a,b,c")).toEqual({ fields: ["a", "b", "c"] });
    expect(parseCsvRecord('"a,1","say ""hi""",')).toEqual({ fields: ["a,1", 'say "hi"', ""] });
    expect(parseCsvRecord('x,"line1\nline2"')).toEqual({ fields: ["x", "line1\nline2"] });
    expect(parseCsvRecord('"",""')).toEqual({ fields: ["", ""] });
  });

  it("tells broken quoting apart from an unfinished record", () => {
    expect(parseCsvRecord('a,"open')).toEqual({ incomplete: true });
    expect(parseCsvRecord('a,b"c')).toMatchObject({
      error: expect.stringMatching(/field 2 contains a double quote/),
    });
    expect(parseCsvRecord('"a"x,b')).toMatchObject({
      error: expect.stringMatching(/field 1 has "x" after its closing quote/),
    });
  });
});

describe("CsvParser", () => {
  it("maps fields to lower-cased header names and numbers records by their first line", async () => {
    const items = await parseAll(new CsvParser(["email"]), 'Email, Name\na@x.io,"Ann\nLee"\n\nb@x.io,Bob\n');
    expect(items).toEqual([
      { kind: "record", lineNo: 2, raw: { email: "a@x.io", name: "Ann\nLee" } },
      { kind: "record", lineNo: 5, raw: { email: "b@x.io", name: "Bob" } },
    ]);
  });

  it("reports a wrong column count and keeps going", async () => {
    const items = await parseAll(new CsvParser(), "email,name\na@x.io\nb@x.io,Bob\n");
    expect(items[0]).toMatchObject({
      kind: "error",
      lineNo: 2,
      message: expect.stringMatching(/has 1 fields but the header has 2/),
    });
    expect(items[1]).toMatchObject({ kind: "record", lineNo: 3 });
  });

  it("recovers after a quote that never closes: the broken line is an error, later lines import", async () => {
    const items = await parseAll(new CsvParser(), 'email,name\n"a@x.io,Ann\nb@x.io,Bob\nc@x.io,Cy\n');
    expect(items[0]).toMatchObject({
      kind: "error",
      lineNo: 2,
      message: expect.stringMatching(/never closed/),
    });
    expect(items.slice(1)).toEqual([
      { kind: "record", lineNo: 3, raw: { email: "b@x.io", name: "Bob" } },
      { kind: "record", lineNo: 4, raw: { email: "c@x.io", name: "Cy" } },
    ]);
  });

  it("stops waiting for a closing quote after MAX_RECORD_LINES lines", async () => {
    const body = Array.from({ length: MAX_RECORD_LINES + 5 }, (_, i) => `r${i}@x.io,R`).join("\n");
    const items = await parseAll(new CsvParser(), `email,name\n"open,Ann\n${body}\n`);
    expect(items[0]).toMatchObject({
      kind: "error",
      lineNo: 2,
      message: expect.stringMatching(/not closed within/),
    });
    expect(items.filter((i) => i.kind === "record")).toHaveLength(MAX_RECORD_LINES + 5);
  });

  it("turns a non-UTF-8 line into an error item", async () => {
    const bytes = new Uint8Array([
      ...enc.encode("email,name\n"),
      0xc3,
      0x28,
      ...enc.encode(",x\nb@x.io,B\n"),
    ]);
    const items = await parseAll(new CsvParser(), bytes);
    expect(items[0]).toMatchObject({
      kind: "error",
      lineNo: 2,
      message: expect.stringMatching(/not valid UTF-8/),
    });
    expect(items[1]).toMatchObject({ kind: "record", lineNo: 3 });
  });

  it("reports a record with a NUL character, which Postgres cannot store", async () => {
    const items = await parseAll(new CsvParser(), "email,name\na@x.io,A\u0000nn\nb@x.io,B\n");
    expect(items[0]).toMatchObject({
      kind: "error",
      lineNo: 2,
      message: expect.stringMatching(/NUL character/),
    });
    expect(items[1]).toMatchObject({ kind: "record", lineNo: 3 });
  });

  it("rejects files it cannot read at all with a message that says what to fix", async () => {
    await expect(parseAll(new CsvParser(), "")).rejects.toThrow(/file is empty/);
    await expect(parseAll(new CsvParser(), "\n\n")).rejects.toThrow(InputError);
    await expect(parseAll(new CsvParser(["email", "name"]), "mail,name\n")).rejects.toThrow(
      /lacks the required column email/,
    );
    await expect(parseAll(new CsvParser(), "email,,name\n")).rejects.toThrow(/column 2 has no name/);
    await expect(parseAll(new CsvParser(), "email,Email\n")).rejects.toThrow(/appears twice/);
  });
});

describe("JsonLinesParser", () => {
  it("parses objects and reports bad lines by number", async () => {
    const items = await parseAll(
      new JsonLinesParser(),
      '{"email":"a@x.io"}\n\n{bad\n[1]\nnull\n{"email":"b@x.io"}',
    );
    expect(items.map((i) => [i.kind, i.lineNo])).toEqual([
      ["record", 1],
      ["error", 3],
      ["error", 4],
      ["error", 5],
      ["record", 6],
    ]);
    expect(items[1]).toMatchObject({ message: expect.stringMatching(/line 3 is not valid JSON/) });
    expect(items[2]).toMatchObject({ message: "line 4 is an array, not a JSON object" });
  });

  it("reports an escaped NUL in a value or key, but not an escaped backslash before u0000", async () => {
    const items = await parseAll(
      new JsonLinesParser(),
      '{"name":"a\\u0000"}\n{"x":[{"k\\u0000":1}]}\n{"name":"fine \\\\u0000"}\n',
    );
    expect(items.map((i) => i.kind)).toEqual(["error", "error", "record"]);
    expect(items[0]).toMatchObject({ message: expect.stringMatching(/line 1 contains a NUL character/) });
    expect(items[2]).toMatchObject({ raw: { name: "fine \\u0000" } });
  });

  it("reports an unpaired surrogate escape, but keeps a paired one and an escaped backslash before one", async () => {
    const items = await parseAll(
      new JsonLinesParser(),
      '{"name":"a\\ud800"}\n{"x":{"\\uDFFFk":1}}\n{"name":"\\ud83d\\ude00"}\n{"name":"fine \\\\ud800"}\n',
    );
    expect(items.map((i) => i.kind)).toEqual(["error", "error", "record", "record"]);
    expect(items[0]).toMatchObject({
      message:
        "line 1 contains an unpaired surrogate escape (\\ud800 to \\udfff without its pair), which is not text; fix the escape",
    });
    expect(items[2]).toMatchObject({ raw: { name: "\u{1F600}" } });
    expect(items[3]).toMatchObject({ raw: { name: "fine \\ud800" } });
  });

  it("rejects an empty file", async () => {
    await expect(parseAll(new JsonLinesParser(), " \n")).rejects.toThrow(/file is empty/);
  });
});

describe("hostile JSON Lines", () => {
  it("reports a line nested deeper than the limit and keeps the records around it", async () => {
    const deep = `{"email":"d@x.test","name":"D","x":${"[".repeat(5000)}${"]".repeat(5000)}}`;
    const items = await parseAll(
      new JsonLinesParser(),
      `{"email":"a@x.test","name":"A"}\n${deep}\n{"email":"b@x.test","name":"B","tags":[[1]]}\n`,
    );
    expect(items).toEqual([
      { kind: "record", lineNo: 1, raw: { email: "a@x.test", name: "A" } },
      {
        kind: "error",
        lineNo: 2,
        message: `line 2 nests objects or arrays more than ${MAX_JSON_DEPTH} levels deep; flatten the record`,
      },
      { kind: "record", lineNo: 3, raw: { email: "b@x.test", name: "B", tags: [[1]] } },
    ]);
    expect(nestedDeeperThan({ a: [[{}]] }, 4)).toBe(false);
    expect(nestedDeeperThan({ a: [[{ b: [] }]] }, 4)).toBe(true);
  });
});
