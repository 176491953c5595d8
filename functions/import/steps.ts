// The import's durable steps. Each reads its dependencies from its context (functions/shared/dependency.ts)
// and returns counts only: staging (stage.ts), a run of batches (run-batches.ts), and the job's end.
import type { Context } from "@resonatehq/sdk";
import { dependency } from "../shared/dependency.ts";
import { batchFailureMessage, type FinalStatus, verdict } from "./batch-math.ts";
import {
  deleteKeptSource,
  failFirstUnfinishedBatch,
  finishJobRow,
  loadJob,
  markJobFailed,
  tallyJob,
} from "./db.ts";
import type { ImportDeps } from "./deps.ts";
import { isJobId } from "./job-spec.ts";
import { importRoute } from "./route.ts";
import { type BatchRun, runBatches } from "./run-batches.ts";
import { stageJob } from "./stage.ts";

export interface RetrySettings {
  retries: number;
  delayMs: number;
}

/** What the workload registers for its steps: the import's dependencies and its retry policy. */
export interface ImportWorkflowDeps extends ImportDeps {
  retry: RetrySettings;
}

export interface ImportOutcome {
  status: FinalStatus | "missing";
  total: number;
  imported: number;
  skipped: number;
  failed: number;
}

export const deps = (ctx: Context) => dependency<ImportWorkflowDeps>(ctx, importRoute.kind);

export function stage(ctx: Context, jobId: string): Promise<{ ok: boolean; batches: number }> {
  return stageJob(deps(ctx), jobId);
}

export function batches(ctx: Context, jobId: string, from: number): Promise<BatchRun> {
  return runBatches(deps(ctx), jobId, from);
}

export async function finish(ctx: Context, jobId: string): Promise<ImportOutcome> {
  const d = deps(ctx);
  if (!isJobId(jobId)) return outcome("missing", undefined);
  const s = await tallyJob(d.pool, jobId);
  if (!s) return outcome("missing", undefined);
  if (s.done === s.batches) await deleteKeptSource(d.pool, jobId);
  if (s.status === "failed") return outcome("failed", await loadJob(d.pool, jobId));
  const counts = {
    total: s.records + s.unreadable,
    imported: s.imported,
    skipped: s.skipped,
    failed: s.failed + s.unreadable,
  };
  const v = verdict(counts);
  await finishJobRow(d.pool, jobId, v.status, v.error, counts, { total: s.batches, done: s.done });
  d.log.info("import finished", { job_id: jobId, status: v.status, imported: counts.imported });
  return { status: v.status, ...counts };
}

export async function stagingFailed(ctx: Context, jobId: string): Promise<ImportOutcome> {
  const d = deps(ctx);
  const job = await loadJob(d.pool, jobId);
  const cause = job?.error ?? "unknown error";
  await markJobFailed(
    d.pool,
    jobId,
    `${cause} (gave up after ${d.retry.retries + 1} attempts; check the source and insert a new job)`,
  );
  return outcome("failed", await loadJob(d.pool, jobId));
}

/** The step that began at batch `from` ran out of retries at its first batch not done. */
export async function batchFailed(ctx: Context, jobId: string, from: number): Promise<ImportOutcome> {
  const d = deps(ctx);
  const b = await failFirstUnfinishedBatch(d.pool, jobId, from);
  const index = b?.batch_index ?? from;
  const job = await loadJob(d.pool, jobId);
  const message = batchFailureMessage(
    index,
    b?.attempts ?? 0,
    b?.error ?? "unknown error",
    job?.imported_rows ?? 0,
  );
  await markJobFailed(d.pool, jobId, message);
  d.log.error("import failed", { job_id: jobId, batch: index, error: b?.error });
  return outcome("failed", await loadJob(d.pool, jobId));
}

export function outcome(
  status: ImportOutcome["status"],
  job: Awaited<ReturnType<typeof loadJob>>,
): ImportOutcome {
  return {
    status,
    total: job?.total_rows ?? 0,
    imported: job?.imported_rows ?? 0,
    skipped: job?.skipped_rows ?? 0,
    failed: job?.failed_rows ?? 0,
  };
}
