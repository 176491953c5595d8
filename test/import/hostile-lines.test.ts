// One hostile line is one bad record: a JSON Lines record nested 5,000 levels deep, a 2 MB line and a
// CSV line of 1M columns each become an import_errors row saying what is wrong, and the rest of the
// file is imported (they used to fail staging, be retried as temporary errors, and fail the job).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_LINE_BYTES } from "../../functions/import/lines.ts";
import { MAX_JSON_DEPTH } from "../../functions/import/parse.ts";
import { MAX_BATCH_BYTES } from "../../functions/import/planner.ts";
import { contactsCsv, type Harness, importHarness, uid } from "../support/import/harness.ts";

let h: Harness;

beforeAll(async () => {
  h = await importHarness("import_hostile_lines");
  await h.worker().waitForOutput('"started"');
});
afterAll(async () => {
  await h?.close();
});

async function errors(id: string) {
  const { rows } = await h.pool.query<{ line_no: number; message: string }>(
    "select line_no, message from import_errors where job_id = $1 order by line_no",
    [id],
  );
  return rows;
}

const tooLong = (no: number, bytes: number) =>
  `line ${no} is ${bytes} bytes long, more than the ${MAX_LINE_BYTES} a record may have; records must be one per line (CSV or JSON Lines)`;

describe("hostile lines", () => {
  it("a deeply nested and an over-long JSON Lines record fail alone", async () => {
    const tag = uid();
    const good = (i: number) => JSON.stringify({ email: `j${i}@${tag}.test`, name: `J ${i}` });
    const deep = `{"email":"deep@${tag}.test","name":"D","x":${"[".repeat(5000)}${"]".repeat(5000)}}`;
    const huge = JSON.stringify({ email: `huge@${tag}.test`, name: "x".repeat(2 * MAX_LINE_BYTES) });
    const lines = [good(0), deep, good(1), huge, good(2)];
    const id = await h.startJob({ source_url: h.writeFile(`${tag}.jsonl`, `${lines.join("\n")}\n`) });
    const job = await h.waitFinished(id);
    expect(job).toMatchObject({
      status: "partially_succeeded",
      imported_rows: 3,
      failed_rows: 2,
      total_rows: 5,
    });
    expect(await errors(id)).toEqual([
      {
        line_no: 2,
        message: `line 2 nests objects or arrays more than ${MAX_JSON_DEPTH} levels deep; flatten the record`,
      },
      { line_no: 4, message: tooLong(4, Buffer.byteLength(huge)) },
    ]);
  });

  it("a JSON Lines line of binary junk fails alone, though the parser's message quotes its NUL", async () => {
    const tag = uid();
    const good = (i: number) => JSON.stringify({ email: `b${i}@${tag}.test`, name: `B ${i}` });
    const junk = "\u0000\u0001PK\u0003\u0004";
    const lines = [good(0), junk, good(1)];
    const id = await h.startJob({ source_url: h.writeFile(`${tag}.jsonl`, `${lines.join("\n")}\n`) });
    const job = await h.waitFinished(id);
    expect(job).toMatchObject({ status: "partially_succeeded", imported_rows: 2, failed_rows: 1 });
    const [err, ...rest] = await errors(id);
    expect(rest).toEqual([]);
    expect(err!.line_no).toBe(2);
    expect(err!.message).toMatch(
      /^line 2 is not valid JSON \(Unexpected token '\\u0000'.*; each line must be one JSON object$/,
    );
  });

  it("a CSV line of a million columns fails alone", async () => {
    const tag = uid();
    const csv = contactsCsv(10, tag).split("\n");
    const wide = Array.from({ length: 1_000_000 }, () => "a").join(",");
    csv.splice(5, 0, wide);
    const id = await h.startJob({ source_url: h.writeFile(`${tag}.csv`, csv.join("\n")) });
    const job = await h.waitFinished(id);
    expect(job).toMatchObject({ status: "partially_succeeded", imported_rows: 10, failed_rows: 1 });
    expect(await errors(id)).toEqual([{ line_no: 6, message: tooLong(6, wide.length) }]);
  });

  it("records near the line limit at a large batch_size go in batches of at most 16 MiB, all imported", async () => {
    const tag = uid();
    // 40 records of ~900 KB (a field the target ignores): one batch of 36 MB at batch_size 1000, held
    // twice over by the batch step.
    const wide = (i: number) =>
      JSON.stringify({ email: `w${i}@${tag}.test`, name: `W ${i}`, notes: "w".repeat(900_000) });
    const lines = Array.from({ length: 40 }, (_, i) => wide(i));
    const id = await h.startJob({
      source_url: h.writeFile(`${tag}.jsonl`, `${lines.join("\n")}\n`),
      batch_size: 1000,
    });
    const job = await h.waitFinished(id, 120_000);
    expect(job).toMatchObject({ status: "succeeded", imported_rows: 40, failed_rows: 0 });
    const { rows } = await h.pool.query<{ bytes: string; rows: number }>(
      "select byte_end - byte_start as bytes, rows from import_batches where job_id = $1 order by batch_index",
      [id],
    );
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const b of rows) expect(Number(b.bytes)).toBeLessThanOrEqual(MAX_BATCH_BYTES + MAX_LINE_BYTES);
    expect(rows.reduce((n, b) => n + b.rows, 0)).toBe(40);
  });
});
