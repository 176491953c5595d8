// A run whose durable record is gone (resonate.gc removes settled workflows after 7 days) is retried
// from its row: a failed import resumes on the staged rows it kept for that, and a partially
// succeeded one is not mistaken for a row that never started.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contactsCsv, effects, type Harness, importHarness, uid } from "../support/import/harness.ts";

let h: Harness;

beforeAll(async () => {
  h = await importHarness("import_retry_after_gc");
  await h.worker().waitForOutput('"started"');
});
afterAll(async () => {
  await h?.close();
});

/** What resonate.gc does to a settled workflow older than its horizon. */
async function forgetWorkflow(id: string): Promise<void> {
  await h.pool.query("delete from resonate.tasks where id = $1 or id like $1 || ':%'", [`import/${id}`]);
  await h.pool.query("delete from resonate.promises where id = $1 or id like $1 || ':%'", [`import/${id}`]);
}

describe("retry_workflow after the workflow's record is gone", () => {
  it("resumes a failed import at its unfinished batches", async () => {
    const id = await h.insertJob({
      source_url: h.writeFile(`${uid()}.csv`, contactsCsv(500, uid())),
      batch_size: 100,
    });
    await h.pool.query(
      "insert into app.import_fault_injections (job_id, batch_index, fail_attempts) values ($1, 2, 1000)",
      [id],
    );
    await h.starter.beginRpc(`import/${id}`, "importJob", id, h.starter.options({ target: h.group }));
    expect(await h.waitFinished(id)).toMatchObject({ status: "failed", batches_done: 2 });
    await h.waitWorkflowSettled(id);
    await forgetWorkflow(id);
    await h.pool.query("delete from app.import_fault_injections where job_id = $1", [id]);
    // The test's workers are in their own group: point the retry there, as the newest import was.
    await h.pool.query(
      `select app.rpc_call('promise.create', jsonb_build_object('id', 'import/marker-' || $1::text,
         'timeoutAt', 1, 'tags', jsonb_build_object('resonate:target', $2::text)))`,
      [uid(), `poll://any@${h.group}`],
    );

    const { rows } = await h.pool.query<{ id: string }>("select public.retry_workflow($1) as id", [
      `import/${id}`,
    ]);
    expect(rows[0]!.id).toBe(`import/${id}/retry-1`);
    expect(await h.waitStatus(id, "succeeded", 30_000)).toMatchObject({
      imported_rows: 500,
      batches_done: 5,
    });
    expect(await effects(h.pool, id)).toEqual({ inserts: 500, updates: 0, maxPerEmail: 1 });
  });

  it("says a succeeded run has nothing to retry, and still tells a refused row apart", async () => {
    const done = await h.insertJob({ source_url: "file://x.csv" });
    await h.pool.query("update import_jobs set status = 'succeeded', started_at = now() where id = $1", [
      done,
    ]);
    await expect(h.pool.query("select public.retry_workflow($1)", [`import/${done}`])).rejects.toThrow(
      `workflow import/${done} succeeded; nothing to retry`,
    );
    const refused = await h.insertJob({ source_url: "file://x.csv" });
    await h.pool.query(
      "update import_jobs set status = 'failed', error = 'batch_size 0 is out of range' where id = $1",
      [refused],
    );
    await expect(h.pool.query("select public.retry_workflow($1)", [`import/${refused}`])).rejects.toThrow(
      `workflow import/${refused} never started: its row was refused (batch_size 0 is out of range); fix the input and insert a new row`,
    );
  });
});
