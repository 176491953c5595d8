// A target is a table records are imported into: its field rules (pure) and its idempotent upsert.
// Adding a target is one new file exporting a `Target` plus one line in registry.ts.
import type pg from "pg";

export interface FieldError {
  field: string | null;
  message: string;
}

export type Validated<R> = { ok: true; row: R } | { ok: false; errors: FieldError[] };

export interface UpsertResult {
  /** Line numbers whose row was written. */
  applied: number;
  /** Rows not written because an earlier line of the same job already wrote the same key. */
  duplicates: { lineNo: number; field: string; message: string }[];
}

export interface Target<R> {
  name: string;
  /** Fields a CSV header must name; a file without them fails before anything is staged. */
  requiredFields: readonly string[];
  validate(raw: unknown): Validated<R>;
  /**
   * Writes rows inside the caller's transaction, keyed by the target's natural key, so applying the same
   * rows again changes nothing.
   */
  upsert(client: pg.ClientBase, jobId: string, rows: { lineNo: number; row: R }[]): Promise<UpsertResult>;
}
