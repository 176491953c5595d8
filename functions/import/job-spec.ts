// What an inserted import_jobs row must say before any work starts. Pure: the Edge Function runs it to
// refuse a bad row at once (the row turns `failed` with this message), and the worker runs it again
// on entry because the row is the only input it trusts.
import { targetNames } from "./targets/registry.ts";

export const FORMATS = ["csv", "jsonl"] as const;
export type Format = (typeof FORMATS)[number];

export const MIN_BATCH_SIZE = 1;
/** Above this one batch's rows and upsert stop fitting comfortably in one transaction and in memory. */
export const MAX_BATCH_SIZE = 50_000;

export interface JobSpec {
  id: string;
  sourceUrl: string;
  format: Format;
  target: string;
  batchSize: number;
}

export type SpecResult = { ok: true; value: JobSpec } | { ok: false; error: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isJobId(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}

/** The format the source's file extension implies; a `.gz` suffix (see decompress.ts) is looked through. */
export function inferFormat(sourceUrl: string): Format | undefined {
  const path = sourceUrl.split(/[?#]/)[0]!.toLowerCase().replace(/\.gz$/, "");
  if (path.endsWith(".csv")) return "csv";
  if (path.endsWith(".jsonl") || path.endsWith(".ndjson")) return "jsonl";
  return undefined;
}

export function parseJobSpec(record: Record<string, unknown>): SpecResult {
  const fail = (error: string): SpecResult => ({ ok: false, error });
  const id = record.id;
  if (!isJobId(id)) return fail("id must be a uuid");

  const source = record.source_url;
  if (typeof source !== "string" || source.trim() === "") {
    return fail("source_url is required: an http(s):// URL or a file:// path inside the import folder");
  }
  const url = source.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== "http" && scheme !== "https" && scheme !== "file") {
    return fail(`source_url ${JSON.stringify(source)} must start with http://, https:// or file://`);
  }
  if (scheme !== "file") {
    try {
      new URL(url);
    } catch {
      return fail(`source_url ${JSON.stringify(source)} is not a valid URL`);
    }
  } else {
    // The path is percent-decoded when opened; a stray % would fail there as a retried, unexplained error.
    try {
      decodeURIComponent(url.slice("file://".length));
    } catch {
      return fail(
        `source_url ${JSON.stringify(source)} has a % that starts no escape (like %20); in a file:// path write % as %25`,
      );
    }
  }

  let format: Format | undefined;
  if (record.format === null || record.format === undefined || record.format === "") {
    format = inferFormat(url);
    if (!format) {
      return fail(
        `format is not set and cannot be inferred from ${JSON.stringify(source)}; set format to 'csv' or 'jsonl'`,
      );
    }
  } else if (
    typeof record.format === "string" &&
    (FORMATS as readonly string[]).includes(record.format.toLowerCase())
  ) {
    format = record.format.toLowerCase() as Format;
  } else {
    return fail(`format ${JSON.stringify(record.format)} is not supported; use 'csv' or 'jsonl'`);
  }

  const target = record.target;
  if (typeof target !== "string" || !targetNames().includes(target)) {
    return fail(`target ${JSON.stringify(target)} is unknown; known targets: ${targetNames().join(", ")}`);
  }

  const batchSize = typeof record.batch_size === "string" ? Number(record.batch_size) : record.batch_size;
  if (
    typeof batchSize !== "number" ||
    !Number.isInteger(batchSize) ||
    batchSize < MIN_BATCH_SIZE ||
    batchSize > MAX_BATCH_SIZE
  ) {
    return fail(
      `batch_size ${JSON.stringify(record.batch_size)} is out of range; use an integer from ${MIN_BATCH_SIZE} to ${MAX_BATCH_SIZE} (1000 is a good default)`,
    );
  }
  return { ok: true, value: { id, sourceUrl: url, format, target, batchSize } };
}
