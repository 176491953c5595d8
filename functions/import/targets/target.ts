// A target is a table records are imported into: its field rules (pure), how a batch's valid rows are
// encoded for it (pure) and its idempotent write. Adding a target is one new file exporting a `Target`
// plus one line in registry.ts.
import type pg from "pg";

export interface FieldError {
  field: string | null;
  message: string;
}

export type Validated<R> = { ok: true; row: R } | { ok: false; errors: FieldError[] };

/** A row not written because an earlier line of the same job already wrote the same key. */
export interface Duplicate {
  lineNo: number;
  field: string;
  message: string;
}

/** A batch's valid rows as the write sends them. */
export interface PreparedRows {
  /** Rows to write: the valid ones less the duplicates found among them. */
  count: number;
  /** Those rows as COPY text-format data. */
  copy: string;
  /** Later lines repeating a key of an earlier line in the same rows. */
  duplicates: Duplicate[];
}

export interface UpsertResult {
  /** Rows written. */
  applied: number;
  /** Rows not written because an earlier batch of the same job wrote the same key. */
  duplicates: Duplicate[];
}

export interface Target<R> {
  name: string;
  /** Fields a CSV header must name; a file without them fails before anything is staged. */
  requiredFields: readonly string[];
  validate(raw: unknown): Validated<R>;
  /** Pure, so it runs while the previous batch is being written. */
  prepare(rows: { lineNo: number; row: R }[]): PreparedRows;
  /**
   * Writes prepared rows inside the caller's transaction (COPY into a temporary table, then one
   * set-based upsert), keyed by the target's natural key, so writing the same rows again changes nothing.
   * `meanwhile` is called once the longest statement is on its way to the database: what the caller
   * runs then (reading the next batch) overlaps the database's work instead of delaying its answers.
   */
  write(
    client: pg.ClientBase,
    jobId: string,
    rows: PreparedRows,
    meanwhile?: () => void,
  ): Promise<UpsertResult>;
}
