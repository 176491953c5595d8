// Injected database errors (SQLSTATE 40001, raised inside the batch transaction after its writes):
// a transient one is retried with backoff without re-running earlier batches; a persistent one fails
// the job with a clear error and leaves the finished batches applied.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/http-server.ts";
import { contactsCsv, effects, type Harness, importHarness, uid } from "../support/import/harness.ts";
import type { WorkerProcess } from "../support/worker.ts";

const ROWS = 5_000;
const BATCH = 1_000;
let h: Harness;
let worker: WorkerProcess;

beforeAll(async () => {
  h = await importHarness("import_failures");
  // Retries: 3 after the first attempt, 100 ms doubling (200, 400, 800 ms by the SDK's Exponential).
  worker = h.worker({ IMPORT_BATCH_RETRIES: "3", IMPORT_BATCH_RETRY_DELAY_MS: "100" });
  await worker.waitForOutput('"started"');
});
afterAll(async () => {
  await h?.close();
});

async function jobWithFault(batch: number, failAttempts: number, delayBeforeMs = 0): Promise<string> {
  const id = await h.insertJob({
    source_url: h.writeFile(`${uid()}.csv`, contactsCsv(ROWS, uid())),
    batch_size: BATCH,
  });
  await h.pool.query(
    `insert into app.import_fault_injections (job_id, batch_index, fail_attempts, delay_before_ms)
     values ($1, $2, $3, $4)`,
    [id, batch, failAttempts, delayBeforeMs],
  );
  await h.starter.beginRpc(`import/${id}`, "importJob", id, h.starter.options({ target: h.group }));
  return id;
}

async function batchRows(id: string) {
  const { rows } = await h.pool.query<{
    batch_index: number;
    status: string;
    attempts: number;
    error: string | null;
    ms: number | null;
  }>(
    `select batch_index, status, attempts, error,
            (extract(epoch from finished_at - started_at) * 1000)::int as ms
     from public.import_batches where job_id = $1 order by batch_index`,
    [id],
  );
  return rows;
}

describe("a failing batch", () => {
  it("that fails twice then succeeds is retried with backoff; earlier batches do not re-run", async () => {
    const id = await jobWithFault(2, 2);
    const job = await h.waitFinished(id);
    expect(job).toMatchObject({ status: "succeeded", imported_rows: ROWS, batches_done: 5, error: null });
    const b = await batchRows(id);
    expect(b.map((x) => x.attempts)).toEqual([1, 1, 3, 1, 1]);
    expect(b.every((x) => x.status === "done")).toBe(true);
    // Two waits of 200 and 400 ms sit between its first attempt and its commit.
    expect(b[2]!.ms).toBeGreaterThanOrEqual(550);
    expect(await effects(h.pool, id)).toEqual({ inserts: ROWS, updates: 0, maxPerEmail: 1 });
    expect(worker.output()).toMatch(
      /"event":"import batch failed".*"attempt":2.*injected: batch 2, attempt 2/,
    );
  });

  it("that keeps failing ends the job failed with a clear error; finished batches stay applied", async () => {
    const id = await jobWithFault(3, 1000);
    // While it retries, the job row says so.
    const retrying = await eventually(
      "the job to show the retrying batch",
      async () => {
        const j = await h.job(id);
        return j.status === "importing" && j.error?.startsWith("batch 3 attempt") ? j : undefined;
      },
      30_000,
    );
    expect(retrying.error).toMatch(
      /^batch 3 attempt \d: could not serialize access due to concurrent update \(injected: batch 3, attempt \d\)$/,
    );
    const job = await h.waitFinished(id);
    expect(job.status).toBe("failed");
    expect(job.error).toMatch(
      /^batch 3 failed after 4 attempts \(attempt 4: could not serialize access due to concurrent update \(injected: batch 3, attempt 4\)\)\. Batches 0-2 stay imported \(3000 rows\)\. Fix the cause/,
    );
    expect(job).toMatchObject({ imported_rows: 3 * BATCH, batches_done: 3, batches_total: 5 });
    const b = await batchRows(id);
    expect(b.map((x) => [x.status, x.attempts])).toEqual([
      ["done", 1],
      ["done", 1],
      ["done", 1],
      ["failed", 4],
      ["pending", 0],
    ]);
    const { rows } = await h.pool.query<{ n: number }>(
      "select count(*)::int as n from public.contacts where import_job_id = $1",
      [id],
    );
    expect(rows[0]!.n).toBe(3 * BATCH);
    expect(await effects(h.pool, id)).toEqual({ inserts: 3 * BATCH, updates: 0, maxPerEmail: 1 });
    expect(worker.proc.exitCode).toBeNull();
  });

  it("resumes at the failed batch when retried with retry_workflow once the cause is gone", async () => {
    const id = await jobWithFault(3, 1000);
    expect((await h.waitFinished(id)).status).toBe("failed");
    await h.pool.query("delete from app.import_fault_injections where job_id = $1", [id]);
    expect(await h.waitWorkflowSettled(id)).toBe("resolved");
    const { rows } = await h.pool.query<{ id: string }>("select public.retry_workflow($1) as id", [
      `import/${id}`,
    ]);
    expect(rows[0]!.id).toBe(`import/${id}/retry-1`);
    const job = await h.waitStatus(id, "succeeded");
    expect(job).toMatchObject({ imported_rows: ROWS, batches_done: 5, error: null });
    // Batches 0-2 were not touched again; batch 3 got one more attempt; batch 4 ran for the first time.
    expect((await batchRows(id)).map((b) => [b.status, b.attempts])).toEqual([
      ["done", 1],
      ["done", 1],
      ["done", 1],
      ["done", 5],
      ["done", 1],
    ]);
    expect(await effects(h.pool, id)).toEqual({ inserts: ROWS, updates: 0, maxPerEmail: 1 });
  });
});

describe("a canceled import", () => {
  it("lets the running batch commit, runs nothing after it, ends failed, and resumes once on retry", async () => {
    const id = await jobWithFault(2, 0, 1_500);
    await eventually(
      "batch 2 to be running",
      async () => ((await batchRows(id))[2]?.status === "running" ? true : undefined),
      30_000,
    );
    const { rows } = await h.pool.query<{ n: number }>("select public.cancel_workflow($1) as n", [
      `import/${id}`,
    ]);
    expect(rows[0]!.n).toBeGreaterThanOrEqual(1);
    expect(await h.job(id)).toMatchObject({
      status: "failed",
      error:
        "canceled with cancel_workflow; the finished batches (batches_done) stay imported, and retry_workflow resumes at the next one",
    });
    // The batch in its transaction when the cancel came commits; the workflow's next step is refused.
    await eventually("batch 2 to commit", async () =>
      (await batchRows(id))[2]?.status === "done" ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await batchRows(id)).map((b) => b.status)).toEqual([
      "done",
      "done",
      "done",
      "pending",
      "pending",
    ]);
    expect(await h.job(id)).toMatchObject({ status: "failed", batches_done: 3, imported_rows: 3 * BATCH });

    await h.pool.query("select public.retry_workflow($1)", [`import/${id}`]);
    const job = await h.waitStatus(id, "succeeded");
    expect(job).toMatchObject({ imported_rows: ROWS, batches_done: 5, error: null });
    expect((await batchRows(id)).map((b) => b.attempts)).toEqual([1, 1, 1, 1, 1]);
    expect(await effects(h.pool, id)).toEqual({ inserts: ROWS, updates: 0, maxPerEmail: 1 });
  });
});
