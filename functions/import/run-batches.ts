// Step 2 of an import: the batches, from the first unfinished one on, in one durable step. Exactly-once
// comes from each batch's own transaction (its done mark commits with its rows), not from the step, so
// one step can run many batches and pay the durable store once; after a crash the step runs again and
// starts at the first batch not done. A step reads the source once, in order: while one batch is
// written, the next is read, checked, parsed and validated (one batch ahead, so memory stays flat).
//
// A batch that fails throws, and the step is retried with backoff from that batch. The step ends after
// a batch that needed more than one attempt, so each batch has the whole retry budget to itself.
import type pg from "pg";
import { type PreparedBatch, prepareBatch, sliceBatches } from "./batch-input.ts";
import { applyBatch, type BatchOutcome, countAttempt, recordFailure } from "./batch-step.ts";
import { loadJob, markJobFailed } from "./db.ts";
import type { ImportDeps } from "./deps.ts";
import { isSourceChanged, JobGoneError } from "./errors.ts";
import { handled } from "./in-flight.ts";
import { parseJobSpec } from "./job-spec.ts";
import { loadPin, openPinned } from "./pin.ts";
import { readPlans } from "./plan.ts";
import { getTarget } from "./targets/registry.ts";
import type { Target } from "./targets/target.ts";

export interface BatchRun {
  /** The first batch this step did not finish. */
  next: number;
  /** The job was canceled, marked failed, or its source changed: no further batch runs. */
  stopped: boolean;
}

/** Failed while reading batch `index`, before any attempt at writing it. */
class ReadFailure extends Error {
  readonly index: number;
  readonly cause: Error;
  constructor(index: number, cause: Error) {
    super(cause.message);
    this.index = index;
    this.cause = cause;
  }
}

export async function runBatches(deps: ImportDeps, jobId: string, from: number): Promise<BatchRun> {
  const { pool } = deps;
  const job = await loadJob(pool, jobId);
  if (!job)
    throw new JobGoneError(`import job ${jobId} was deleted; batch ${from} and the rest were not run`);
  const { rows } = await pool.query<{ first: number | null; total: number }>(
    `select min(batch_index) filter (where batch_index >= $2 and status <> 'done') as first, count(*)::int as total
       from public.import_batches where job_id = $1`,
    [jobId, from],
  );
  const { first, total } = rows[0]!;
  if (first === null) return { next: total, stopped: false };
  const spec = parseJobSpec({ ...job });
  const pin = await loadPin(pool, jobId);
  const target = spec.ok ? getTarget(spec.value.target) : undefined;
  // Staging commits the pin with the job's `importing`; only a hand edit takes either away.
  if (!spec.ok || !pin || !target) {
    throw new Error(
      `import job ${jobId} has no import_sources row to read its source again; insert a new job for the file`,
    );
  }

  const format = { format: spec.value.format, header: pin.header };
  const open = (offset: number) => openPinned(deps, jobId, spec.value.sourceUrl, pin, offset);
  const plans = readPlans(pool, jobId, first);
  let reading = first;
  async function* prepared(): AsyncGenerator<PreparedBatch> {
    for await (const s of sliceBatches(open, plans)) {
      reading = s.plan.index;
      yield await prepareBatch(target!, format, s.plan, s.bytes);
      reading = s.plan.index + 1;
    }
  }
  const batches = prepared();
  // Read while the current batch is written; a failure is taken up when its turn comes.
  const ahead = () =>
    handled(
      batches.next().catch((err: Error) => {
        throw new ReadFailure(reading, err);
      }),
    );

  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    let next = ahead();
    for (;;) {
      let batch: PreparedBatch;
      try {
        const r = await next;
        if (r.done) return { next: total, stopped: false };
        batch = r.value;
      } catch (err) {
        if (!(err instanceof ReadFailure)) throw err;
        return await readFailed(deps, client, jobId, err);
      }
      // The next batch is read while this one's upsert runs in the database (see Target.write).
      let asked = false;
      const readNext = () => {
        if (!asked) next = ahead();
        asked = true;
      };
      const outcome = await runOne(deps, client, jobId, batch, target, readNext);
      if (outcome === "stopped") return { next: batch.plan.index, stopped: true };
      if (outcome !== "done" && outcome.attempt > 1) return { next: batch.plan.index + 1, stopped: false };
      readNext();
    }
  } catch (err) {
    failure = err as Error;
    throw err;
  } finally {
    // A connection whose batch failed is discarded rather than trusted with the next one.
    client.release(failure);
    // Not awaited: a read in flight (a stalled download) must not hold the step; the generator closes
    // its source once that read settles.
    batches.return(undefined).catch(() => {});
  }
}

async function runOne(
  deps: ImportDeps,
  client: pg.PoolClient,
  jobId: string,
  batch: PreparedBatch,
  target: Target<unknown>,
  meanwhile: () => void,
): Promise<BatchOutcome> {
  const index = batch.plan.index;
  const counted = await countAttempt(client, deps.asyncCommit, jobId, index);
  if (typeof counted === "string") return counted;
  try {
    return await applyBatch(client, deps.asyncCommit, target, jobId, batch, counted.attempt, meanwhile);
  } catch (err) {
    if (err instanceof JobGoneError) throw err;
    const message = (err as Error).message;
    deps.log.warn("import batch failed", {
      job_id: jobId,
      batch: index,
      attempt: counted.attempt,
      error: message,
    });
    await recordFailure(deps.pool, jobId, index, `attempt ${counted.attempt}: ${message}`);
    throw err;
  }
}

/** A batch that cannot be read counts as a failed attempt at it; a source that changed stops the job. */
async function readFailed(
  deps: ImportDeps,
  client: pg.ClientBase,
  jobId: string,
  err: ReadFailure,
): Promise<BatchRun> {
  const counted = await countAttempt(client, deps.asyncCommit, jobId, err.index);
  if (typeof counted === "string") {
    if (counted === "stopped") return { next: err.index, stopped: true };
    throw err.cause;
  }
  const message = `attempt ${counted.attempt}: reading the source: ${err.message}`;
  deps.log.warn("import batch failed", {
    job_id: jobId,
    batch: err.index,
    attempt: counted.attempt,
    error: message,
  });
  await recordFailure(deps.pool, jobId, err.index, message);
  if (!isSourceChanged(err.cause)) throw err.cause;
  await deps.pool.query(
    "update public.import_batches set status = 'failed', finished_at = now() where job_id = $1 and batch_index = $2",
    [jobId, err.index],
  );
  const kept = err.index === 0 ? "" : ` Batches 0-${err.index - 1} stay imported.`;
  await markJobFailed(
    deps.pool,
    jobId,
    `the source changed after the import started: ${err.message}.${kept} Insert a new job to import it as it is now.`,
  );
  return { next: err.index, stopped: true };
}
