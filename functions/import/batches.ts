// Batch arithmetic and the job's final verdict: pure, so the rules are unit-tested without a database.

export function batchCount(records: number, batchSize: number): number {
  return Math.ceil(records / batchSize);
}

/** Record indexes (0-based, end exclusive) that batch `index` covers. */
export function batchRange(index: number, batchSize: number): { from: number; to: number } {
  return { from: index * batchSize, to: (index + 1) * batchSize };
}

export interface JobCounts {
  total: number;
  imported: number;
  skipped: number;
  failed: number;
}

export type FinalStatus = "succeeded" | "partially_succeeded" | "failed";

export function verdict(c: JobCounts): { status: FinalStatus; error: string | null } {
  const rejected = c.failed + c.skipped;
  if (rejected === 0) return { status: "succeeded", error: null };
  const detail = `${c.failed} invalid and ${c.skipped} duplicate row(s) of ${c.total}; see import_errors for each line and what to fix`;
  if (c.imported === 0) return { status: "failed", error: `no row was imported: ${detail}` };
  return { status: "partially_succeeded", error: `${c.imported} row(s) imported, ${detail}` };
}
