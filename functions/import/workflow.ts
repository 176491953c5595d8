// The import workflow: one durable step stages the file (reads it once and records where each batch
// lies in it), then durable steps run the batches, each step as many as it can (see run-batches.ts),
// then one finishes. After a crash the workflow replays; steps whose results are recorded return them
// without running, and the step in flight starts at the first batch not done.
import { type Context, Exponential } from "@resonatehq/sdk";
import { batchFailureMessage, type FinalStatus, verdict } from "./batch-math.ts";
import type { ImportDeps } from "./deps.ts";
import { isJobGone, JobGoneError } from "./errors.ts";
import { isJobId } from "./job-spec.ts";
import { loadJob, markJobFailed } from "./jobs.ts";
import { type BatchRun, runBatches } from "./run-batches.ts";
import { stageJob } from "./stage.ts";

export interface RetrySettings {
  retries: number;
  delayMs: number;
}

export interface ImportOutcome {
  status: FinalStatus | "missing";
  total: number;
  imported: number;
  skipped: number;
  failed: number;
}

export function importWorkflow(deps: ImportDeps, retry: RetrySettings) {
  const stage = (_ctx: Context, jobId: string) => stageJob(deps, jobId);
  const batches = (_ctx: Context, jobId: string, from: number) => runBatches(deps, jobId, from);
  const finish = (_ctx: Context, jobId: string) => finishJob(deps, jobId);
  const stagingFailed = (_ctx: Context, jobId: string) => failAfterStaging(deps, jobId, retry.retries + 1);
  const batchFailed = (_ctx: Context, jobId: string, from: number) => failAfterBatch(deps, jobId, from);

  return function* importJob(ctx: Context, jobId: string): Generator<unknown, ImportOutcome, unknown> {
    const policy = ctx.options({
      retryPolicy: new Exponential({
        delay: retry.delayMs,
        factor: 2,
        maxRetries: retry.retries,
        maxDelay: 60_000,
      }),
      nonRetryableErrors: [JobGoneError],
    });
    let staged: { ok: boolean; batches: number };
    try {
      staged = yield* ctx.run(stage, jobId, policy);
    } catch (err) {
      if (isJobGone(err)) return jobGone(deps, err);
      return yield* ctx.run(stagingFailed, jobId);
    }
    for (let next = 0; staged.ok && next < staged.batches; ) {
      let run: BatchRun;
      try {
        run = yield* ctx.run(batches, jobId, next, policy);
      } catch (err) {
        if (isJobGone(err)) return jobGone(deps, err);
        return yield* ctx.run(batchFailed, jobId, next);
      }
      if (run.stopped) break;
      next = run.next;
    }
    return yield* ctx.run(finish, jobId);
  };
}

/** No row is left to record anything on; the log line and the workflow's result say what happened. */
function jobGone(deps: ImportDeps, err: Error): ImportOutcome {
  deps.log.warn("import stopped: job deleted", { error: err.message });
  return outcome("missing", undefined);
}

function outcome(status: ImportOutcome["status"], job: Awaited<ReturnType<typeof loadJob>>): ImportOutcome {
  return {
    status,
    total: job?.total_rows ?? 0,
    imported: job?.imported_rows ?? 0,
    skipped: job?.skipped_rows ?? 0,
    failed: job?.failed_rows ?? 0,
  };
}

// The job's counters come from its batches (and staging's unreadable lines), not from the row: the
// owner may have edited the row by hand mid-run, and that must not decide the outcome. A job that
// failed (a cancel, or a batch out of retries) stays failed.
const FINISH = `
with b as (
  select coalesce(sum(rows), 0)::int as records, coalesce(sum(imported), 0)::int as imported,
         coalesce(sum(skipped), 0)::int as skipped, coalesce(sum(failed), 0)::int as failed,
         count(*)::int as batches, count(*) filter (where status = 'done')::int as done
    from public.import_batches where job_id = $1
), unreadable as (
  select count(*)::int as n from public.import_errors where job_id = $1 and batch_index is null
)
select b.*, u.n as unreadable, j.status
  from public.import_jobs j, b, unreadable u
 where j.id = $1`;

export async function finishJob(deps: ImportDeps, jobId: string): Promise<ImportOutcome> {
  if (!isJobId(jobId)) return outcome("missing", undefined);
  const { rows } = await deps.pool.query<{
    records: number;
    imported: number;
    skipped: number;
    failed: number;
    batches: number;
    done: number;
    unreadable: number;
    status: string;
  }>(FINISH, [jobId]);
  const s = rows[0];
  if (!s) return outcome("missing", undefined);
  // Kept for resuming only: once every batch is done nothing will read the source again.
  if (s.done === s.batches) {
    await deps.pool.query(
      `with chunks as (delete from public.import_source_chunks where job_id = $1)
       delete from public.import_sources where job_id = $1`,
      [jobId],
    );
  }
  if (s.status === "failed") return outcome("failed", await loadJob(deps.pool, jobId));
  const counts = {
    total: s.records + s.unreadable,
    imported: s.imported,
    skipped: s.skipped,
    failed: s.failed + s.unreadable,
  };
  const v = verdict(counts);
  await deps.pool.query(
    `update public.import_jobs
        set status = $2, error = $3, total_rows = $4, imported_rows = $5, skipped_rows = $6, failed_rows = $7,
            batches_total = $8, batches_done = $9, finished_at = coalesce(finished_at, now()), updated_at = now()
      where id = $1 and status <> 'failed'`,
    [
      jobId,
      v.status,
      v.error,
      counts.total,
      counts.imported,
      counts.skipped,
      counts.failed,
      s.batches,
      s.done,
    ],
  );
  deps.log.info("import finished", { job_id: jobId, status: v.status, imported: counts.imported });
  return { status: v.status, ...counts };
}

async function failAfterStaging(deps: ImportDeps, jobId: string, attempts: number): Promise<ImportOutcome> {
  const job = await loadJob(deps.pool, jobId);
  const cause = job?.error ?? "unknown error";
  await markJobFailed(
    deps.pool,
    jobId,
    `${cause} (gave up after ${attempts} attempts; check the source and insert a new job)`,
  );
  return outcome("failed", await loadJob(deps.pool, jobId));
}

/** The step that began at batch `from` ran out of retries at its first batch not done. */
async function failAfterBatch(deps: ImportDeps, jobId: string, from: number): Promise<ImportOutcome> {
  const { rows } = await deps.pool.query<{ batch_index: number; attempts: number; error: string | null }>(
    `update public.import_batches set status = 'failed', finished_at = now()
     where job_id = $1 and batch_index = (
       select min(batch_index) from public.import_batches where job_id = $1 and batch_index >= $2 and status <> 'done')
     returning batch_index, attempts, error`,
    [jobId, from],
  );
  const b = rows[0];
  const index = b?.batch_index ?? from;
  const job = await loadJob(deps.pool, jobId);
  const message = batchFailureMessage(
    index,
    b?.attempts ?? 0,
    b?.error ?? "unknown error",
    job?.imported_rows ?? 0,
  );
  await markJobFailed(deps.pool, jobId, message);
  deps.log.error("import failed", { job_id: jobId, batch: index, error: b?.error });
  return outcome("failed", await loadJob(deps.pool, jobId));
}
