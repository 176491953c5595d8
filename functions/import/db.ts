// The import workload's SQL for its job rows: reading, failing and finishing them (staging's and the
// batches' own statements are in stage.ts, batch.ts and the targets). Every write is guarded by the row's
// status, so replaying a step after a crash cannot move a finished job backwards.
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

export interface JobTally {
  records: number;
  imported: number;
  skipped: number;
  failed: number;
  batches: number;
  done: number;
  unreadable: number;
  status: string;
}

// The job's counters come from its batches (and staging's unreadable lines), not from the row: the owner
// may have edited the row by hand mid-run, and that must not decide the outcome.
export async function tallyJob(db: Queryable, jobId: string): Promise<JobTally | undefined> {
  const { rows } = await db.query<JobTally>(
    `with b as (
       select coalesce(sum(rows), 0)::int as records, coalesce(sum(imported), 0)::int as imported,
              coalesce(sum(skipped), 0)::int as skipped, coalesce(sum(failed), 0)::int as failed,
              count(*)::int as batches, count(*) filter (where status = 'done')::int as done
         from public.import_batches where job_id = $1
     ), unreadable as (
       select count(*)::int as n from public.import_errors where job_id = $1 and batch_index is null
     )
     select b.*, u.n as unreadable, j.status
       from public.import_jobs j, b, unreadable u
      where j.id = $1`,
    [jobId],
  );
  return rows[0];
}

/** The source's kept bytes and range record: once every batch is done nothing will read them again. */
export async function deleteKeptSource(db: Queryable, jobId: string): Promise<void> {
  await db.query(
    `with chunks as (delete from public.import_source_chunks where job_id = $1)
     delete from public.import_sources where job_id = $1`,
    [jobId],
  );
}

export interface JobCounts {
  total: number;
  imported: number;
  skipped: number;
  failed: number;
}

/** A job that failed meanwhile (a cancel, or a batch out of retries) stays failed. */
export async function finishJobRow(
  db: Queryable,
  jobId: string,
  status: string,
  error: string | null,
  counts: JobCounts,
  batches: { total: number; done: number },
): Promise<void> {
  await db.query(
    `update public.import_jobs
        set status = $2, error = $3, total_rows = $4, imported_rows = $5, skipped_rows = $6, failed_rows = $7,
            batches_total = $8, batches_done = $9, finished_at = coalesce(finished_at, now()), updated_at = now()
      where id = $1 and status <> 'failed'`,
    [
      jobId,
      status,
      error,
      counts.total,
      counts.imported,
      counts.skipped,
      counts.failed,
      batches.total,
      batches.done,
    ],
  );
}

/** Marks failed the first batch not done from `from` on, and returns it. */
export async function failFirstUnfinishedBatch(
  db: Queryable,
  jobId: string,
  from: number,
): Promise<{ batch_index: number; attempts: number; error: string | null } | undefined> {
  const { rows } = await db.query<{ batch_index: number; attempts: number; error: string | null }>(
    `update public.import_batches set status = 'failed', finished_at = now()
     where job_id = $1 and batch_index = (
       select min(batch_index) from public.import_batches where job_id = $1 and batch_index >= $2 and status <> 'done')
     returning batch_index, attempts, error`,
    [jobId, from],
  );
  return rows[0];
}
