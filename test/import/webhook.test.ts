// The import-webhook handler as the Edge Function runs it (serveWebhook from edge-webhook.ts, real
// Resonate store, real database), called in-process so the test controls the database and group.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importRoute } from "../../functions/import/route.ts";
import { rejectSql, rowExistsSql, serveWebhook } from "../../functions/shared/edge-webhook.ts";
import { contactsCsv, effects, type Harness, importHarness, uid } from "../support/import/harness.ts";

let h: Harness;
let handler: (req: Request) => Promise<Response>;
const secret = () => process.env.WEBHOOK_SECRET!;

beforeAll(async () => {
  h = await importHarness("import_webhook");
  // The handler reads its configuration once, on the first request: point it at this test's store.
  process.env.DATABASE_URL = h.url;
  // Directly: the stack's pooler leads to the shared database, not this test's.
  delete process.env.DB_POOLER_URL;
  process.env.RESONATE_GROUP = h.group;
  handler = serveWebhook(importRoute);
});
afterAll(async () => {
  // The handler's own pool and Resonate client live as long as the process (as in the Edge Runtime),
  // so the database is left for the next run's freshDatabase to drop instead of cut from under them.
  await h?.close({ dropDatabase: false });
});

function post(body: unknown, token: string | null = secret()): Promise<Response> {
  return handler(
    new Request("http://localhost/functions/v1/import-webhook", {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
}

const hook = (record: Record<string, unknown>, over: Record<string, unknown> = {}) => ({
  type: "INSERT",
  table: "import_jobs",
  schema: "public",
  record,
  old_record: null,
  ...over,
});

async function jobRecord(fields: Record<string, unknown>) {
  const id = await h.insertJob(fields);
  const { rows } = await h.pool.query("select to_jsonb(j) as r from public.import_jobs j where id = $1", [
    id,
  ]);
  return rows[0].r as Record<string, unknown>;
}

describe("import-webhook", () => {
  it("answers 401 without the right secret, 400 for a malformed body, 200 for events it ignores", async () => {
    const record = await jobRecord({ source_url: "file://x.csv" });
    expect((await post(hook(record), null)).status).toBe(401);
    expect((await post(hook(record), `${secret()}x`)).status).toBe(401);
    const bad = await post("{not json");
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatch(/not valid JSON/);
    const noType = await post({ table: "import_jobs", schema: "public", record });
    expect(await noType.json()).toEqual({ error: "field 'type' must be INSERT, UPDATE or DELETE" });
    const update = await post(hook(record, { type: "UPDATE" }));
    expect(update.status).toBe(200);
    expect(await update.json()).toMatchObject({ status: "ignored" });
    expect((await post(hook(record, { table: "contacts" }))).status).toBe(200);
  });

  it("refuses an invalid row with 400 and marks the row failed with the reason", async () => {
    const record = await jobRecord({ source_url: "file://x.csv", batch_size: 0 });
    const res = await post(hook(record));
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatch(/batch_size 0 is out of range/);
    const job = await h.job(record.id as string);
    expect(job.status).toBe("failed");
    expect(job.error).toMatch(/batch_size 0 is out of range; use an integer from 1 to 50000/);
    const { rows } = await h.pool.query("select count(*)::int as n from resonate.promises where id = $1", [
      `import/${record.id}`,
    ]);
    expect(rows[0].n).toBe(0);
  });

  it("starts one workflow for five concurrent identical deliveries", async () => {
    const worker = h.worker();
    await worker.waitForOutput('"started"');
    const record = await jobRecord({
      source_url: h.writeFile(`${uid()}.csv`, contactsCsv(3000, uid())),
      batch_size: 500,
    });
    const responses = await Promise.all(Array.from({ length: 5 }, () => post(hook(record))));
    const bodies = await Promise.all(responses.map((r) => r.json()));
    expect(responses.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
    expect(new Set(bodies.map((b) => b.workflow_id))).toEqual(new Set([`import/${record.id}`]));
    const job = await h.waitFinished(record.id as string);
    expect(job).toMatchObject({ status: "succeeded", imported_rows: 3000, batches_done: 6 });
    const { rows } = await h.pool.query<{ n: number }>(
      "select count(*)::int as n from resonate.promises where id = $1",
      [`import/${record.id}`],
    );
    expect(rows[0]!.n).toBe(1);
    const attempts = await h.pool.query<{ attempts: number }>(
      "select attempts from public.import_batches where job_id = $1",
      [record.id],
    );
    expect(attempts.rows.map((r) => r.attempts)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(await effects(h.pool, record.id as string)).toEqual({ inserts: 3000, updates: 0, maxPerEmail: 1 });
    expect(worker.output().match(/"event":"import staged"/g)).toHaveLength(1);
  });

  it("finds the row through its key: only the id's canonical spelling, 404 for any other, never a scan", async () => {
    const record = await jobRecord({ source_url: "file://x.csv", batch_size: 0 });
    const id = record.id as string;
    for (const other of [id.toUpperCase(), "not-a-uuid", `${id}0`]) {
      const res = await post(hook({ ...record, id: other }));
      expect(res.status, other).toBe(404);
    }
    expect((await h.job(id)).status, "the real row is left alone").toBe("queued");
    const c = await h.pool.connect();
    try {
      await c.query("begin");
      // Whatever the table's size, a plan that can use the key's index must.
      await c.query("set local enable_seqscan = off");
      for (const sql of [rowExistsSql("public.import_jobs"), rejectSql("public.import_jobs")]) {
        const params = sql.startsWith("update") ? [id, id, "x"] : [id, id];
        const { rows } = await c.query(`explain ${sql}`, params);
        const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
        // Not the whole index read with a filter: a condition on the key.
        expect(plan, sql).toMatch(/Index (Only )?Scan using import_jobs_pkey[^\n]*\n\s+Index Cond: \(id = /);
      }
    } finally {
      await c.query("rollback");
      c.release();
    }
  });
});
