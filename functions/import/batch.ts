// Step 2, once per batch: validate the batch's staged rows, upsert the valid ones into the target and
// record the invalid ones, and mark the batch done, all in ONE transaction. A batch that committed is
// never applied again (the done mark is read under a row lock first); one that did not commit left
// nothing behind, so running it again is the whole recovery story.
import type pg from "pg";
import type { ImportDeps } from "./deps.ts";
import { JobGoneError } from "./errors.ts";
import { INSERT_ERRORS } from "./stage.ts";
import { getTarget } from "./targets/registry.ts";

export interface BatchCounts {
  imported: number;
  skipped: number;
  failed: number;
}

interface StagedRow {
  line_no: number;
  raw: unknown;
}

// See ImportDeps.asyncCommit: a batch (or attempt count) whose commit was lost has no recorded result
// and runs again. Set per statement or transaction with set_config(..., true), so a pooled connection
// goes back to the pool unchanged and no extra round trip is spent on SET and RESET.
const COMMIT_MODE =
  "set_config('synchronous_commit', case when $3 then 'off' else current_setting('synchronous_commit') end, true)";

// The attempt is counted in its own transaction, so an attempt that fails still counts.
const COUNT_ATTEMPT = `
update public.import_batches
set attempts = attempts + 1, status = 'running', started_at = coalesce(started_at, now())
where job_id = $1 and batch_index = $2 and status <> 'done'
returning attempts, ${COMMIT_MODE}`;

// First statement of the batch transaction: the job row's lock, taken before anything else the batch
// locks or writes (as MARK_DONE's update and the target rows' foreign-key checks would take it later).
// A DELETE of the job locks that row first and then cascades into import_batches, so in this order the
// two queue behind each other instead of deadlocking.
const LOCK_JOB = "select from public.import_jobs where id = $1 for no key update";

// Then the 'before' fault point, the batch row's lock and the target.
const LOCK_BATCH = `
select app.import_fault_point($1, $2, 'before', $4), ${COMMIT_MODE}, b.status, j.target
from public.import_batches b join public.import_jobs j on j.id = b.job_id
where b.job_id = $1 and b.batch_index = $2
for update of b`;

// Last statement before COMMIT: the done mark, the job's counters and the 'inside' fault point. It comes
// after the upsert and the error rows, in the same transaction, so an injected failure or a kill during
// its delay rolls the whole batch back.
const MARK_DONE = `
with batch as (
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

export async function processBatch(deps: ImportDeps, jobId: string, index: number): Promise<BatchCounts> {
  const client = await deps.pool.connect();
  let broken: Error | undefined;
  try {
    const mark = await client.query<{ attempts: number }>(COUNT_ATTEMPT, [jobId, index, deps.asyncCommit]);
    const attempt = mark.rows[0]?.attempts;
    if (attempt === undefined) return await doneCounts(client, jobId, index);
    try {
      await client.query("begin");
      const counts = await applyBatch(client, deps.asyncCommit, jobId, index, attempt);
      await client.query("commit");
      return counts;
    } catch (err) {
      await client.query("rollback").catch((e: Error) => {
        broken = e;
      });
      const message = (err as Error).message;
      deps.log.warn("import batch failed", { job_id: jobId, batch: index, attempt, error: message });
      // The job row shows it too, so a job whose batch is retrying does not look healthy; the batch's
      // done mark clears it.
      await deps.pool.query(
        `with batch as (
           update public.import_batches set status = 'retrying', error = $3
           where job_id = $1 and batch_index = $2 and status <> 'done'
         )
         update public.import_jobs set error = 'batch ' || $2 || ' ' || $3, updated_at = now()
         where id = $1 and status = 'importing'`,
        [jobId, index, `attempt ${attempt}: ${message}`],
      );
      throw err;
    }
  } finally {
    client.release(broken);
  }
}

async function doneCounts(client: pg.ClientBase, jobId: string, index: number): Promise<BatchCounts> {
  const { rows } = await client.query<BatchCounts & { status: string }>(
    "select status, imported, skipped, failed from public.import_batches where job_id = $1 and batch_index = $2",
    [jobId, index],
  );
  const b = rows[0];
  if (!b) throw await missingBatch(client, jobId, index);
  return { imported: b.imported, skipped: b.skipped, failed: b.failed };
}

/** A deleted job stops the workflow; a batch missing from a job that exists is a bug worth retrying. */
async function missingBatch(client: pg.ClientBase, jobId: string, index: number): Promise<Error> {
  const { rowCount } = await client.query("select from public.import_jobs where id = $1", [jobId]);
  if (!rowCount)
    return new JobGoneError(`import job ${jobId} was deleted; batch ${index} and the rest were not run`);
  return new Error(`import batch ${index} of job ${jobId} does not exist; was the job staged?`);
}

async function applyBatch(
  client: pg.ClientBase,
  asyncCommit: boolean,
  jobId: string,
  index: number,
  attempt: number,
): Promise<BatchCounts> {
  await client.query(LOCK_JOB, [jobId]);
  const lock = await client.query<{ status: string; target: string }>(LOCK_BATCH, [
    jobId,
    index,
    asyncCommit,
    attempt,
  ]);
  if (!lock.rows[0]) throw await missingBatch(client, jobId, index);
  // Another execution of this batch (a worker presumed dead that was not) committed first.
  if (lock.rows[0].status === "done") return doneCounts(client, jobId, index);

  const targetName = lock.rows[0].target;
  const target = getTarget(targetName);
  if (!target) throw new Error(`import job ${jobId} has unknown target ${targetName}`);

  const staged = await client.query<StagedRow>(
    "select line_no, raw from public.import_rows where job_id = $1 and batch_index = $2 order by line_no",
    [jobId, index],
  );
  const valid: { lineNo: number; row: unknown }[] = [];
  const errs = { l: [] as number[], f: [] as (string | null)[], m: [] as string[] };
  let invalidRows = 0;
  for (const s of staged.rows) {
    const v = target.validate(s.raw);
    if (v.ok) {
      valid.push({ lineNo: s.line_no, row: v.row });
      continue;
    }
    invalidRows++;
    for (const e of v.errors) {
      errs.l.push(s.line_no);
      errs.f.push(e.field);
      errs.m.push(e.message);
    }
  }
  const prepared = target.prepare(valid);
  const result = await target.write(client, jobId, prepared);
  for (const d of [...prepared.duplicates, ...result.duplicates]) {
    errs.l.push(d.lineNo);
    errs.f.push(d.field);
    errs.m.push(d.message);
  }
  if (errs.l.length > 0) await client.query(INSERT_ERRORS, [jobId, errs.l, errs.f, errs.m, index]);

  const skipped = prepared.duplicates.length + result.duplicates.length;
  const counts = { imported: result.applied, skipped, failed: invalidRows };
  await client.query(MARK_DONE, [jobId, index, counts.imported, counts.skipped, counts.failed, attempt]);
  return counts;
}
