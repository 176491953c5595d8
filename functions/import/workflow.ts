// The import workflow, in the seed's shape: one durable step stages the file, then a plain `for` loop
// runs one durable step per batch. After a crash the workflow replays; steps whose results are
// recorded return them without running, so work resumes at the first unfinished batch.
import { type Context, Exponential } from "@resonatehq/sdk";
import { processBatch } from "./batch.ts";
import { batchFailureMessage, type FinalStatus, verdict } from "./batches.ts";
import type { ImportDeps } from "./deps.ts";
import { loadJob, markJobFailed } from "./jobs.ts";
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
  const batch = (_ctx: Context, jobId: string, index: number) => processBatch(deps, jobId, index);
  const finish = (_ctx: Context, jobId: string) => finishJob(deps, jobId);
  const stagingFailed = (_ctx: Context, jobId: string) => failAfterStaging(deps, jobId, retry.retries + 1);
  const batchFailed = (_ctx: Context, jobId: string, index: number) => failAfterBatch(deps, jobId, index);

  return function* importJob(ctx: Context, jobId: string): Generator<unknown, ImportOutcome, unknown> {
    const policy = ctx.options({
      retryPolicy: new Exponential({
        delay: retry.delayMs,
        factor: 2,
        maxRetries: retry.retries,
        maxDelay: 60_000,
      }),
    });
    let staged: { ok: boolean; batches: number };
    try {
      staged = yield* ctx.run(stage, jobId, policy);
    } catch {
      return yield* ctx.run(stagingFailed, jobId);
    }
    if (staged.ok) {
      for (let i = 0; i < staged.batches; i++) {
        try {
          yield* ctx.run(batch, jobId, i, policy);
        } catch {
          return yield* ctx.run(batchFailed, jobId, i);
        }
      }
    }
    return yield* ctx.run(finish, jobId);
  };
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

export async function finishJob(deps: ImportDeps, jobId: string): Promise<ImportOutcome> {
  const job = await loadJob(deps.pool, jobId);
  if (!job) return outcome("missing", job);
  if (job.status === "importing") {
    const v = verdict({
      total: job.total_rows ?? 0,
      imported: job.imported_rows,
      skipped: job.skipped_rows,
      failed: job.failed_rows,
    });
    await deps.pool.query(
      `update public.import_jobs set status = $2, error = $3, finished_at = now(), updated_at = now()
       where id = $1 and status = 'importing'`,
      [jobId, v.status, v.error],
    );
    deps.log.info("import finished", { job_id: jobId, status: v.status, imported: job.imported_rows });
    return outcome(v.status, job);
  }
  return outcome(job.status as FinalStatus, job);
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

async function failAfterBatch(deps: ImportDeps, jobId: string, index: number): Promise<ImportOutcome> {
  const { rows } = await deps.pool.query<{ attempts: number; error: string | null }>(
    `update public.import_batches set status = 'failed', finished_at = now()
     where job_id = $1 and batch_index = $2 and status <> 'done'
     returning attempts, error`,
    [jobId, index],
  );
  const b = rows[0];
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
