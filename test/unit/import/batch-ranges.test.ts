// Staging records each batch's byte range; a batch step later reads that range alone. For files with
// quoted records spanning lines, blank and unreadable lines, CRLF, a BOM and an unclosed quote at the
// end, read in any chunking, every batch read again from its range gives exactly the records one pass
// over the file gave it, and a batch whose bytes changed is refused. No database.
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { batchRecords, prepareBatch, sliceBatches } from "../../../functions/import/batch-input.ts";
import { gunzipIfCompressed } from "../../../functions/import/decompress.ts";
import { SourceChangedError } from "../../../functions/import/errors.ts";
import { LineTap } from "../../../functions/import/line-tap.ts";
import { readLines } from "../../../functions/import/lines.ts";
import { CsvParser, JsonLinesParser, type ParsedItem } from "../../../functions/import/parse.ts";
import type { BatchPlan } from "../../../functions/import/plan.ts";
import { BatchPlanner } from "../../../functions/import/planner.ts";
import { contacts } from "../../../functions/import/targets/contacts.ts";

const enc = new TextEncoder();

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

interface Staged {
  plans: BatchPlan[];
  /** The records of each batch, as one pass over the file assigned them. */
  records: ParsedItem[][];
  header: string[] | null;
}

/** What staging does, without a database. */
async function stage(
  bytes: Uint8Array,
  format: "csv" | "jsonl",
  batchSize: number,
  chunk: number,
  maxBatchBytes?: number,
) {
  const parser = format === "csv" ? new CsvParser(contacts.requiredFields) : new JsonLinesParser();
  const tap = new LineTap();
  const planner = new BatchPlanner(batchSize, tap, maxBatchBytes);
  const out: Staged = { plans: [], records: [], header: null };
  const take = (items: ParsedItem[]) => {
    for (const it of items) {
      if (it.kind !== "record") continue;
      const n = out.records.reduce((a, r) => a + r.length, 0);
      if (n % batchSize === 0) out.records.push([]);
      out.records[out.records.length - 1]!.push(it);
    }
    out.plans.push(...planner.take(items));
  };
  for await (const lines of readLines(tap.wrap(gunzipIfCompressed(chunked(bytes, chunk))))) {
    take(parser.push(lines));
    tap.settle(parser.pendingFrom ?? lines[lines.length - 1]!.no + 1);
  }
  take(parser.end());
  const last = planner.finish();
  if (last) out.plans.push(last);
  if (parser instanceof CsvParser) out.header = [...(parser.columns ?? [])];
  return out;
}

async function* plansOf(plans: BatchPlan[]) {
  yield* plans;
}

async function expectBatchesReadBack(text: Uint8Array, format: "csv" | "jsonl", batchSize: number) {
  for (const chunk of [1, 3, 7, 64, 1 << 16]) {
    const s = await stage(text, format, batchSize, chunk);
    expect(s.plans.map((p) => p.index)).toEqual(s.records.map((_, i) => i));
    for (const [i, plan] of s.plans.entries()) {
      expect(plan.rows, `batch ${i}`).toBe(s.records[i]!.length);
      if (i > 0) expect(plan.start).toBe(s.plans[i - 1]!.end);
      const got = await batchRecords(
        contacts,
        { format, header: s.header },
        plan,
        Buffer.from(text.subarray(plan.start, plan.end)),
      );
      expect(got, `batch ${i} of ${batchSize}, chunk ${chunk}`).toEqual(s.records[i]);
    }
    // Cut from one stream that starts at a batch, as a resumed step reads it.
    const from = Math.floor(s.plans.length / 2);
    const slices = [];
    const open = async (offset: number) => chunked(text.subarray(offset), chunk);
    for await (const x of sliceBatches(open, plansOf(s.plans.slice(from)))) slices.push(x);
    expect(slices.map((x) => x.bytes.toString("latin1"))).toEqual(
      s.plans.slice(from).map((p) => Buffer.from(text.subarray(p.start, p.end)).toString("latin1")),
    );
  }
}

const hostileCsv = () =>
  new Uint8Array([
    ...enc.encode("\uFEFFemail,name,company\r\n\r\n"),
    ...enc.encode('a@x.test,Ann,"Acme\r\nWest"\r\n'),
    ...enc.encode("b@x.test,Bob\n"), // wrong column count
    ...enc.encode("\n   \n"),
    ...enc.encode('c@x.test,"Cy ""the"" Third",\n'),
    ...enc.encode("d@x.test,D"),
    0xff, // not UTF-8
    ...enc.encode(",\n"),
    ...enc.encode('e@x.test,"E\n\nE",x\n'),
    ...enc.encode("f@x.test,F,\n"),
    ...enc.encode('g@x.test,G"oops,\n'), // quote inside an unquoted field
    ...enc.encode("h@x.test,H,\n"),
    ...enc.encode('i@x.test,"never closed,\n'),
    ...enc.encode("j@x.test,J,\n"),
    ...enc.encode("k@x.test,K,"), // no newline at the end
  ]);

describe("batch byte ranges", () => {
  it("read back every batch's records from its range alone (CSV)", async () => {
    for (const batchSize of [1, 2, 3, 100]) await expectBatchesReadBack(hostileCsv(), "csv", batchSize);
  });

  it("read back every batch's records from its range alone (JSON Lines)", async () => {
    const lines = [
      '{"email":"a@x.test","name":"A"}',
      "",
      "not json",
      '{"email":"b@x.test","name":"B"}',
      "[1,2]",
      '{"email":"c@x.test","name":"C\\u00e9"}',
      '{"email":"d@x.test","name":"D"}',
    ];
    for (const batchSize of [1, 2, 5]) {
      await expectBatchesReadBack(enc.encode(`${lines.join("\r\n")}\n`), "jsonl", batchSize);
    }
  });

  it("count decompressed bytes for a gzip source", async () => {
    const text = hostileCsv();
    const s = await stage(gzipSync(text), "csv", 2, 5);
    const plain = await stage(text, "csv", 2, 5);
    expect(s.plans).toEqual(plain.plans);
  });

  it("hold random files of many line kinds", async () => {
    const kinds = [
      (i: number) => `r${i}@x.test,R ${i},Co\n`,
      (i: number) => `q${i}@x.test,"Q\n${i}",Co\n`,
      () => "\n",
      (i: number) => `w${i}@x.test\n`,
      (i: number) => `u${i}@x.test,"U ""${i}""",\r\n`,
      (i: number) => `o${i}@x.test,"open\n`,
    ];
    let seed = 17;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 20; round++) {
      let text = "email,name,company\n";
      for (let i = 0; i < 40; i++) text += kinds[rand(kinds.length)]!(i);
      await expectBatchesReadBack(enc.encode(text), "csv", 1 + rand(6));
    }
  });

  it("end a batch at its byte budget before batch_size records, so wide records never make a large batch", async () => {
    const record = (i: number) => `w${i}@x.test,"${"w".repeat(60 + (i % 7) * 20)}",Co\n`;
    let text = "email,name,company\n";
    for (let i = 0; i < 40; i++) text += record(i);
    const bytes = enc.encode(text);
    const budget = 500;
    for (const chunk of [1, 64, 1 << 16]) {
      const s = await stage(bytes, "csv", 100, chunk, budget);
      const all = s.records.flat();
      expect(s.plans.map((p) => p.index)).toEqual(s.plans.map((_, i) => i));
      expect(s.plans.reduce((n, p) => n + p.rows, 0)).toBe(all.length);
      let first = 0;
      for (const [i, plan] of s.plans.entries()) {
        const size = plan.end - plan.start;
        // The last record begins within the budget, and is at most 200 bytes.
        expect(size, `batch ${i}`).toBeLessThan(budget + 200);
        if (i < s.plans.length - 1)
          expect(size, `batch ${i} is cut at its budget`).toBeGreaterThanOrEqual(budget);
        const got = await batchRecords(
          contacts,
          { format: "csv", header: s.header },
          plan,
          Buffer.from(bytes.subarray(plan.start, plan.end)),
        );
        expect(got, `batch ${i}, chunk ${chunk}`).toEqual(all.slice(first, first + plan.rows));
        first += plan.rows;
      }
      expect(s.plans.length).toBeGreaterThan(1);
    }
  });

  it("refuse a batch whose bytes changed since staging", async () => {
    const text = hostileCsv();
    const s = await stage(text, "csv", 3, 1 << 16);
    const plan = s.plans[1]!;
    const changed = Buffer.from(text.subarray(plan.start, plan.end));
    changed[changed.length - 2] = changed[changed.length - 2]! ^ 1;
    const format = { format: "csv" as const, header: s.header };
    await expect(prepareBatch(contacts, format, plan, changed)).rejects.toThrow(SourceChangedError);
    await expect(prepareBatch(contacts, format, plan, changed)).rejects.toThrow(
      /batch 1 \(lines from \d+, bytes \d+-\d+\) no longer has the bytes staging read/,
    );
    const same = await prepareBatch(contacts, format, plan, Buffer.from(text.subarray(plan.start, plan.end)));
    expect(same.plan).toBe(plan);
  });

  it("refuse a source that ends before the last batch does", async () => {
    const text = hostileCsv();
    const s = await stage(text, "csv", 3, 1 << 16);
    const short = text.subarray(0, s.plans[s.plans.length - 1]!.end - 1);
    const open = async (offset: number) => chunked(short.subarray(offset), 8);
    const read = async () => {
      for await (const _ of sliceBatches(open, plansOf(s.plans))) {
      }
    };
    await expect(read()).rejects.toThrow(/the source ends at byte \d+, before the end of batch/);
  });
});
