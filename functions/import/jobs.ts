// Reads and finishes import_jobs rows. Every write is guarded by the row's status, so replaying a
// step after a crash cannot move a finished job backwards.
import type pg from "pg";
import { isJobId } from "./job-spec.ts";

export interface JobRow {
  id: string;
  source_url: string;
  format: string | null;
  target: string;
  batch_size: string;
  status: string;
  total_rows: number | null;
  imported_rows: number;
  skipped_rows: number;
  failed_rows: number;
  batches_total: number | null;
  batches_done: number;
  error: string | null;
  staged_at: Date | null;
}

export const TERMINAL = ["succeeded", "partially_succeeded", "failed"];

type Queryable = Pick<pg.Pool, "query"> | Pick<pg.ClientBase, "query">;

/** Undefined for an unknown job, and for a workflow argument that is not a uuid at all (which would
 *  otherwise fail the query on every retry). */
export async function loadJob(db: Queryable, jobId: string): Promise<JobRow | undefined> {
  if (!isJobId(jobId)) return undefined;
  const { rows } = await db.query<JobRow>("select * from public.import_jobs where id = $1", [jobId]);
  return rows[0];
}

export async function markJobFailed(db: Queryable, jobId: string, message: string): Promise<void> {
  await db.query(
    `update public.import_jobs set status = 'failed', error = $2, finished_at = now(), updated_at = now()
     where id = $1 and status not in ('succeeded', 'partially_succeeded', 'failed')`,
    [jobId, message],
  );
}
