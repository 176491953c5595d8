// One batch, in ONE transaction: write its prepared rows to the target, record its invalid and
// duplicate lines, mark it done and add its counts to the job. A batch that committed is never applied
// again (the done mark is read under a row lock first); one that did not commit left nothing behind, so
// running it again is the whole recovery story.
import type pg from "pg";
import { inTransaction, Rollback, type TransactionClient } from "../shared/transaction.ts";
import type { ErrorRows, PreparedBatch } from "./batch-input.ts";
import { JobGoneError } from "./errors.ts";
import type { Target } from "./targets/target.ts";

/** What became of one batch: applied now (with its attempt number), found done, or not run because the
 *  job was stopped (canceled, or marked failed). */
export type BatchOutcome = { attempt: number } | "done" | "stopped";

// The statements a batch runs are prepared once per connection (named), which spares their planning
// on every batch.
//
// See ImportDeps.asyncCommit: a batch (or attempt count) whose commit was lost has no recorded result
// and runs again. Set per statement or transaction with set_config(..., true), so the connection goes
// back to the pool unchanged and no extra round trip is spent on SET and RESET.
const COMMIT_MODE =
  "set_config('synchronous_commit', case when $3 then 'off' else current_setting('synchronous_commit') end, true)";

// The attempt is counted in its own transaction, so an attempt that fails still counts; none is
// counted once the job is failed (canceled). Both this and the batch's first statement take the job's
// turn first, which a cancel takes too: see app.import_lock_batch in
// supabase/migrations/20261121000300_import.sql.
const COUNT_ATTEMPT = "select app.import_count_attempt($1, $2, $3) as attempts";

// First statement of the batch transaction: the job's turn, the job row's lock and the batch row's
// (one function, so one round trip and a fixed order), then the 'before' fault point. The function
// runs before the select list, so the fault point sleeps with the locks held, before any write.
const LOCK = `
select app.import_fault_point($1, $2, 'before', $4), ${COMMIT_MODE}, l.job_status, l.batch_status
from app.import_lock_batch($1, $2) as l`;

// Last statement before COMMIT: the problem lines, the done mark, the job's counters and the 'inside'
// fault point. It comes after the target's write, in the same transaction, so an injected failure or a
// kill during its delay rolls the whole batch back.
const MARK_DONE = `
with errors as (
  insert into public.import_errors (job_id, line_no, field, message, batch_index)
  select $1, l, f, m, $2 from unnest($7::int[], $8::text[], $9::text[]) as t(l, f, m)
  on conflict (job_id, line_no, field) do nothing
), batch as (
  update public.import_batches
  set status = 'done', imported = $3, skipped = $4, failed = $5, error = null, finished_at = clock_timestamp()
  where job_id = $1 and batch_index = $2
), job as (
  update public.import_jobs
  set imported_rows = imported_rows + $3, skipped_rows = skipped_rows + $4, failed_rows = failed_rows + $5,
      batches_done = batches_done + 1, updated_at = clock_timestamp(),
      -- A retry's error is over; a canceled job's message stays.
      error = case when status = 'importing' then null else error end
  where id = $1
)
select app.import_fault_point($1, $2, 'inside', $6)`;

/** Counts an attempt at batch `index`; what stands in the way when there is none to count. */
export async function countAttempt(
  client: pg.ClientBase,
  asyncCommit: boolean,
  jobId: string,
  index: number,
): Promise<BatchOutcome> {
  const mark = await client.query<{ attempts: number | null }>({
    name: "import-count-attempt",
    text: COUNT_ATTEMPT,
    values: [jobId, index, asyncCommit],
  });
  const attempt = mark.rows[0]?.attempts;
  if (attempt !== null && attempt !== undefined) return { attempt };
  const { rows } = await client.query<{ job: string; batch: string | null }>(
    `select j.status as job, b.status as batch
       from public.import_jobs j
       left join public.import_batches b on b.job_id = j.id and b.batch_index = $2
      where j.id = $1`,
    [jobId, index],
  );
  const r = rows[0];
  if (!r) throw new JobGoneError(`import job ${jobId} was deleted; batch ${index} and the rest were not run`);
  if (r.batch === "done") return "done";
  if (r.job === "failed") return "stopped";
  throw new Error(`import batch ${index} of job ${jobId} does not exist; was the job staged?`);
}

/** Applies one prepared batch whose attempt was counted; `meanwhile` as in Target.write. */
export function applyBatch(
  client: TransactionClient,
  asyncCommit: boolean,
  target: Target<unknown>,
  jobId: string,
  batch: PreparedBatch,
  attempt: number,
  meanwhile?: () => void,
): Promise<BatchOutcome> {
  const index = batch.plan.index;
  return inTransaction<BatchOutcome>(client, async () => {
    const lock = await client.query<{ job_status: string | null; batch_status: string | null }>({
      name: "import-lock-batch",
      text: LOCK,
      values: [jobId, index, asyncCommit, attempt],
    });
    const { job_status: job, batch_status: status } = lock.rows[0] ?? {};
    if (!job || !status) {
      throw new JobGoneError(`import job ${jobId} was deleted; batch ${index} and the rest were not run`);
    }
    // Another execution of this batch (a worker presumed dead that was not) committed first, or a
    // cancel came between the attempt count and here.
    if (status === "done" || job === "failed") return new Rollback(status === "done" ? "done" : "stopped");
    const result = await target.write(client, jobId, batch.rows, meanwhile);
    const errors: ErrorRows = {
      l: [...batch.errors.l],
      f: [...batch.errors.f],
      m: [...batch.errors.m],
    };
    for (const d of result.duplicates) {
      errors.l.push(d.lineNo);
      errors.f.push(d.field);
      errors.m.push(d.message);
    }
    const skipped = batch.rows.duplicates.length + result.duplicates.length;
    await client.query({
      name: "import-mark-done",
      text: MARK_DONE,
      values: [jobId, index, result.applied, skipped, batch.invalid, attempt, errors.l, errors.f, errors.m],
    });
    return { attempt };
  });
}

/** Shows a failed attempt on the batch and on the job, so a job whose batch is retrying does not look
 *  healthy; the batch's done mark clears it. Two statements, each locking one row: no lock order to keep. */
export async function recordFailure(
  pool: pg.Pool,
  jobId: string,
  index: number,
  message: string,
): Promise<void> {
  await pool.query(
    `update public.import_batches set status = 'retrying', error = $3
      where job_id = $1 and batch_index = $2 and status <> 'done'`,
    [jobId, index, message],
  );
  await pool.query(
    `update public.import_jobs set error = 'batch ' || $2 || ' ' || $3, updated_at = now()
      where id = $1 and status = 'importing'`,
    [jobId, index, message],
  );
}
