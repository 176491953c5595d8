// The import workflow, orchestration only: one durable step stages the file (reads it once and records
// where each batch lies in it), then durable steps run the batches, each step as many as it can (see
// run-batches.ts), then one finishes. After a crash the workflow replays; steps whose results are
// recorded return them without running, and the step in flight starts at the first batch not done.
import { type Context, Exponential } from "@resonatehq/sdk";
import { isJobGone, JobGoneError } from "./errors.ts";
import type { BatchRun } from "./run-batches.ts";
import {
  batches,
  batchFailed,
  deps,
  finish,
  type ImportOutcome,
  outcome,
  stage,
  stagingFailed,
} from "./steps.ts";

export function* importJob(ctx: Context, jobId: string): Generator<unknown, ImportOutcome, unknown> {
  const { retry, log } = deps(ctx);
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
    if (isJobGone(err)) return jobGone(log, err);
    return yield* ctx.run(stagingFailed, jobId);
  }
  for (let next = 0; staged.ok && next < staged.batches; ) {
    let run: BatchRun;
    try {
      run = yield* ctx.run(batches, jobId, next, policy);
    } catch (err) {
      if (isJobGone(err)) return jobGone(log, err);
      return yield* ctx.run(batchFailed, jobId, next);
    }
    if (run.stopped) break;
    next = run.next;
  }
  return yield* ctx.run(finish, jobId);
}

/** No row is left to record anything on; the log line and the workflow's result say what happened. */
function jobGone(log: ReturnType<typeof deps>["log"], err: Error): ImportOutcome {
  log.warn("import stopped: job deleted", { error: err.message });
  return outcome("missing", undefined);
}
