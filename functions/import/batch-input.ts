// A batch's input, read again from the source: its bytes cut out of the stream by the ranges staging
// recorded, checked against staging's SHA-256, parsed from the batch's first line with the header
// staging read, validated and encoded for the target. Pure apart from the stream it is given.
import { createHash } from "node:crypto";
import { SourceChangedError } from "./errors.ts";
import type { Format } from "./job-spec.ts";
import { MAX_LINE_BYTES, readLines } from "./lines.ts";
import { CsvParser, JsonLinesParser, type RecordParser } from "./parse.ts";
import type { BatchPlan } from "./plan.ts";
import type { PreparedRows, Target } from "./targets/target.ts";

/** Problem rows: line, field (null for the whole line), message; as import_errors takes them. */
export interface ErrorRows {
  l: number[];
  f: (string | null)[];
  m: string[];
}

export interface PreparedBatch {
  plan: BatchPlan;
  rows: PreparedRows;
  /** Records that failed validation. */
  invalid: number;
  errors: ErrorRows;
}

export interface RecordFormat {
  format: Format;
  /** The CSV header's columns; null for JSON Lines. */
  header: readonly string[] | null;
}

/** The source from a byte offset on. */
export type OpenAt = (offset: number) => Promise<AsyncIterable<Uint8Array>>;

/** Each plan's bytes, in order, from one read of the source that starts where the first plan does. */
export async function* sliceBatches(
  open: OpenAt,
  plans: AsyncIterable<BatchPlan>,
): AsyncGenerator<{ plan: BatchPlan; bytes: Buffer }> {
  let source: AsyncIterator<Uint8Array> | undefined;
  let rest: Uint8Array = new Uint8Array(0);
  let at: number | undefined;
  try {
    for await (const plan of plans) {
      source ??= (await open(plan.start))[Symbol.asyncIterator]();
      if (at !== undefined && plan.start !== at) {
        throw new Error(
          `batch ${plan.index} starts at byte ${plan.start}, not where the one before ended (${at})`,
        );
      }
      const want = plan.end - plan.start;
      const parts: Uint8Array[] = [];
      for (let got = 0; got < want; ) {
        if (rest.length === 0) {
          const next = await source.next();
          if (next.done) {
            throw new SourceChangedError(
              `the source ends at byte ${plan.start + got}, before the end of batch ${plan.index} (byte ${plan.end})`,
            );
          }
          rest = next.value;
        }
        const n = Math.min(rest.length, want - got);
        parts.push(rest.subarray(0, n));
        rest = rest.subarray(n);
        got += n;
      }
      at = plan.end;
      yield { plan, bytes: Buffer.concat(parts, want) };
    }
  } finally {
    await source?.return?.();
  }
}

function parserFor(target: Target<unknown>, f: RecordFormat): RecordParser {
  return f.format === "csv" ? new CsvParser(target.requiredFields, f.header ?? []) : new JsonLinesParser();
}

/** The batch's records: the first `plan.rows` records read from its first line on. Lines that are not
 *  records (staging recorded them as errors) are passed over. */
export async function batchRecords(
  target: Target<unknown>,
  f: RecordFormat,
  plan: BatchPlan,
  bytes: Buffer,
): Promise<{ lineNo: number; raw: Record<string, unknown> }[]> {
  const parser = parserFor(target, f);
  const out: { lineNo: number; raw: Record<string, unknown> }[] = [];
  const take = (items: ReturnType<RecordParser["push"]>) => {
    for (const it of items) if (it.kind === "record" && out.length < plan.rows) out.push(it);
  };
  async function* once() {
    yield bytes;
  }
  for await (const lines of readLines(once(), MAX_LINE_BYTES, { no: plan.firstLine, offset: plan.start })) {
    take(parser.push(lines));
    if (out.length === plan.rows) break;
  }
  // A record that only the end of the input settles (an unclosed quote given up on) is the last one.
  if (out.length < plan.rows) take(parser.end());
  if (out.length !== plan.rows || out[0]?.lineNo !== plan.firstLine) {
    throw new Error(
      `batch ${plan.index}: staging found ${plan.rows} records from line ${plan.firstLine}, ` +
        `reading it again found ${out.length} from line ${out[0]?.lineNo}`,
    );
  }
  return out;
}

/** Checks, parses, validates and encodes one batch; throws SourceChangedError if its bytes differ. */
export async function prepareBatch(
  target: Target<unknown>,
  f: RecordFormat,
  plan: BatchPlan,
  bytes: Buffer,
): Promise<PreparedBatch> {
  const digest = createHash("sha256").update(bytes).digest();
  if (!digest.equals(plan.checksum)) {
    throw new SourceChangedError(
      `batch ${plan.index} (lines from ${plan.firstLine}, bytes ${plan.start}-${plan.end}) no longer has the bytes staging read`,
    );
  }
  const errors: ErrorRows = { l: [], f: [], m: [] };
  const valid: { lineNo: number; row: unknown }[] = [];
  let invalid = 0;
  for (const r of await batchRecords(target, f, plan, bytes)) {
    const v = target.validate(r.raw);
    if (v.ok) {
      valid.push({ lineNo: r.lineNo, row: v.row });
      continue;
    }
    invalid++;
    for (const e of v.errors) {
      errors.l.push(r.lineNo);
      errors.f.push(e.field);
      errors.m.push(e.message);
    }
  }
  const rows = target.prepare(valid);
  for (const d of rows.duplicates) {
    errors.l.push(d.lineNo);
    errors.f.push(d.field);
    errors.m.push(d.message);
  }
  return { plan, rows, invalid, errors };
}
