// A failed batch's message and the job's final verdict: pure, so the rules are unit-tested without a database.

export interface JobCounts {
  total: number;
  imported: number;
  skipped: number;
  failed: number;
}

/** The message of a job whose batch `index` ran out of retries. */
export function batchFailureMessage(
  index: number,
  attempts: number,
  cause: string,
  importedRows: number,
): string {
  const kept = index === 0 ? "" : ` Batches 0-${index - 1} stay imported (${importedRows} rows).`;
  return (
    `batch ${index} failed after ${attempts} attempts (${cause}).${kept} ` +
    "Fix the cause and insert a new job for the same file: rows already imported are updated, not duplicated."
  );
}

export type FinalStatus = "succeeded" | "partially_succeeded" | "failed";

export function verdict(c: JobCounts): { status: FinalStatus; error: string | null } {
  const rejected = c.failed + c.skipped;
  if (rejected === 0) return { status: "succeeded", error: null };
  const detail = `${c.failed} invalid and ${c.skipped} duplicate row(s) of ${c.total}; see import_errors for each line and what to fix`;
  if (c.imported === 0) return { status: "failed", error: `no row was imported: ${detail}` };
  return { status: "partially_succeeded", error: `${c.imported} row(s) imported, ${detail}` };
}
