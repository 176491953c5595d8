// What people do to a running import from the dashboard: edit its row or delete it. The spec is fixed
// once inserted (every role), the workflow's own columns are not the service role's to write, a hand
// edit by the owner does not decide the outcome, and a running job cannot be deleted.
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contactsCsv, effects, type Harness, importHarness, uid } from "../support/import/harness.ts";

const ROWS = 2_000;
const BATCH = 100;
let h: Harness;

beforeAll(async () => {
  h = await importHarness("import_operator_edits");
  await h.worker().waitForOutput('"started"');
});
afterAll(async () => {
  await h?.close();
});

/** A 20-batch job whose batch `pauseAt` waits `ms` before it starts, so a test can act mid-run. */
async function pausedJob(pauseAt: number, ms: number): Promise<string> {
  const id = await h.insertJob({
    source_url: h.writeFile(`${uid()}.csv`, contactsCsv(ROWS, uid())),
    batch_size: BATCH,
  });
  await h.pool.query(
    "insert into app.import_fault_injections (job_id, batch_index, delay_before_ms) values ($1, $2, $3)",
    [id, pauseAt, ms],
  );
  await h.starter.beginRpc(`import/${id}`, "importJob", id, h.starter.options({ target: h.group }));
  await h.waitStatus(id, "importing");
  return id;
}

async function asRole<T>(role: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await h.pool.connect();
  try {
    await c.query("begin");
    await c.query(`set local role ${role}`);
    const r = await fn(c);
    await c.query("commit");
    return r;
  } catch (err) {
    await c.query("rollback");
    throw err;
  } finally {
    c.release();
  }
}

describe("editing a running import", () => {
  it("refuses a changed spec for every role, refuses the service role's status edits, and imports every row", async () => {
    const id = await pausedJob(3, 2_500);
    const spec = `update import_jobs set batch_size = 7, source_url = 'file:///etc/passwd', target = 'nosuch' where id = $1`;
    const refusal =
      `import job ${id}: source_url, format, target, batch_size cannot change once the row is inserted ` +
      "(this update changes batch_size, source_url, target); insert a new import_jobs row instead";
    await expect(h.pool.query(spec, [id])).rejects.toThrow(refusal);
    await expect(asRole("service_role", (c) => c.query(spec, [id]))).rejects.toThrow(refusal);
    await expect(
      asRole("service_role", (c) =>
        c.query("update import_jobs set status = 'succeeded', batches_total = 3 where id = $1", [id]),
      ),
    ).rejects.toThrow(
      `import job ${id}: status, counts, errors and timings are written by its workflow, not by service_role ` +
        "(this update changes batches_total, status); stop it with " +
        `select public.cancel_workflow('import/${id}') or run it again with select public.retry_workflow('import/${id}')`,
    );
    // An unchanged spec column in an update is not a change.
    await h.pool.query("update import_jobs set target = target where id = $1", [id]);

    // The owner (the dashboard's SQL editor) may write the row, but that does not decide the outcome.
    await h.pool.query(
      "update import_jobs set status = 'succeeded', batches_total = 3, imported_rows = 0, error = null where id = $1",
      [id],
    );
    await h.waitWorkflowSettled(id);
    const job = await h.job(id);
    expect(job).toMatchObject({
      status: "succeeded",
      total_rows: ROWS,
      imported_rows: ROWS,
      batches_total: ROWS / BATCH,
      batches_done: ROWS / BATCH,
      error: null,
    });
    expect(await effects(h.pool, id)).toEqual({ inserts: ROWS, updates: 0, maxPerEmail: 1 });
  });

  it("refuses a changed prompt, styles or options of an image request", async () => {
    const { rows } = await h.pool.query<{ id: string }>(
      "insert into image_requests (prompt) values ('a red kite') returning id",
    );
    const id = rows[0]!.id;
    await expect(
      h.pool.query("update image_requests set prompt = 'x', options = '{\"fail\": {}}' where id = $1", [id]),
    ).rejects.toThrow(
      `image request ${id}: prompt, styles, options cannot change once the row is inserted ` +
        "(this update changes options, prompt); insert a new image_requests row instead",
    );
    await expect(
      asRole("service_role", (c) =>
        c.query("update image_requests set status = 'succeeded' where id = $1", [id]),
      ),
    ).rejects.toThrow(
      `image request ${id}: status, counts, errors and timings are written by its workflow, not by service_role (this update changes status)`,
    );
  });
});

describe("deleting a running import", () => {
  it("is refused with a message until the job is canceled; then it deletes and the workflow stops without retrying", async () => {
    const id = await pausedJob(2, 3_000);
    await expect(h.pool.query("delete from import_jobs where id = $1", [id])).rejects.toThrow(
      `import job ${id} is still running (workflow import/${id} is pending); cancel it first with ` +
        `select public.cancel_workflow('import/${id}'), then delete it`,
    );
    await expect(
      asRole("service_role", (c) => c.query("delete from import_jobs where id = $1", [id])),
    ).rejects.toThrow(`import job ${id} is still running`);

    await h.pool.query("select public.cancel_workflow($1)", [`import/${id}`]);
    // Batch 2 may still be running (it commits its own write); the delete waits for it, no deadlock.
    const started = Date.now();
    const del = await h.pool.query("delete from import_jobs where id = $1", [id]);
    expect(del.rowCount).toBe(1);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await h.waitWorkflowSettled(id)).toBe("rejected_canceled");
    await new Promise((r) => setTimeout(r, 1_500));
    const batches = await h.pool.query("select count(*)::int as n from import_batches where job_id = $1", [
      id,
    ]);
    expect(batches.rows[0].n).toBe(0);
  });

  it("stops a workflow whose job row is gone at its next batch instead of retrying it", async () => {
    // A job deleted between steps (its workflow canceled too late, or started for a deleted row).
    const id = await pausedJob(2, 3_000);
    await h.pool.query("alter table import_jobs disable trigger import_jobs_refuse_running_delete");
    try {
      await h.pool.query("delete from import_jobs where id = $1", [id]);
    } finally {
      await h.pool.query("alter table import_jobs enable trigger import_jobs_refuse_running_delete");
    }
    expect(await h.waitWorkflowSettled(id)).toBe("resolved");
    const { rows } = await h.pool.query<{ value: unknown }>(
      "select convert_from(decode(value ->> 'data', 'base64'), 'UTF8')::jsonb as value from resonate.promises where id = $1",
      [`import/${id}`],
    );
    expect(rows[0]?.value).toMatchObject({ status: "missing" });
  });
});
