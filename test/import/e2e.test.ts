// The whole trigger path on the shared stack: INSERT into import_jobs -> AFTER INSERT trigger ->
// net.http_post -> the import-webhook Edge Function served by Deno -> beginRpc on group "workers" ->
// a real worker. Four more identical deliveries race the trigger's and still start one workflow.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUNCTIONS_URL } from "../../scripts/stack/env.ts";
import { DB_URL } from "../support/db.ts";
import { eventually, type LoopbackServer, startLoopbackServer } from "../support/http-server.ts";
import { contactsCsv, uid } from "../support/import/harness.ts";
import { startWorker, type WorkerProcess } from "../support/worker.ts";

const tag = `e2e-${uid()}`;
const ROWS = 1200;
let pool: pg.Pool;
let server: LoopbackServer;
let worker: WorkerProcess;
let jobId: string | undefined;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: DB_URL, max: 2 });
  const csv = contactsCsv(ROWS, tag, { invalidEvery: 100 });
  // Served over HTTP so whichever worker of the group takes the task can read it.
  server = await startLoopbackServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/csv" }).end(csv);
  });
  worker = startWorker();
  await worker.waitForOutput('"started"');
});
afterAll(async () => {
  await worker?.kill("SIGTERM");
  await server?.close();
  if (jobId) await pool.query("delete from public.import_jobs where id = $1", [jobId]);
  await pool.query("delete from public.contacts where email like $1", [`%@${tag}.test`]);
  await pool?.end();
});

describe("insert one job row on the running stack", () => {
  it("runs the import through trigger, Edge Function and worker, once", async () => {
    const { rows } = await pool.query<{ id: string; record: Record<string, unknown> }>(
      `insert into public.import_jobs (source_url, format, target, batch_size)
       values ($1, 'csv', 'contacts', 250) returning id, to_jsonb(import_jobs) as record`,
      [`${server.url}/${tag}.csv`],
    );
    jobId = rows[0]!.id;
    const body = JSON.stringify({
      type: "INSERT",
      table: "import_jobs",
      schema: "public",
      record: rows[0]!.record,
      old_record: null,
    });
    const extra = await Promise.all(
      Array.from({ length: 4 }, () =>
        fetch(`${FUNCTIONS_URL}/import-webhook`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${process.env.WEBHOOK_SECRET}`,
          },
          body,
        }),
      ),
    );
    const answers = await Promise.all(extra.map((r) => r.json()));
    expect(extra.map((r) => r.status)).toEqual([202, 202, 202, 202]);
    expect(answers.every((a) => a.workflow_id === `import/${jobId}`)).toBe(true);

    const job = await eventually(
      "the job to finish",
      async () => {
        const r = await pool.query("select * from public.import_jobs where id = $1", [jobId]);
        return ["succeeded", "partially_succeeded", "failed"].includes(r.rows[0].status)
          ? r.rows[0]
          : undefined;
      },
      60_000,
    );
    expect(job).toMatchObject({
      status: "partially_succeeded",
      total_rows: ROWS,
      imported_rows: ROWS - ROWS / 100,
      failed_rows: ROWS / 100,
      batches_total: 5,
      batches_done: 5,
    });
    const counts = await pool.query<{
      contacts: number;
      promises: number;
      errors: number;
      attempts: number[];
    }>(
      `select (select count(*)::int from public.contacts where import_job_id = $1) as contacts,
              (select count(*)::int from resonate.promises where id = 'import/' || $1) as promises,
              (select count(*)::int from public.import_errors where job_id = $1) as errors,
              (select array_agg(attempts order by batch_index) from public.import_batches where job_id = $1) as attempts`,
      [jobId],
    );
    expect(counts.rows[0]).toEqual({
      contacts: ROWS - ROWS / 100,
      promises: 1,
      errors: ROWS / 100,
      attempts: [1, 1, 1, 1, 1],
    });
    // The trigger's own delivery went through pg_net and was answered by the function.
    const delivered = await pool.query<{ n: number }>(
      `select count(*)::int as n from net._http_response where status_code = 202 and content like $1`,
      [`%import/${jobId}%`],
    );
    expect(delivered.rows[0]!.n).toBe(1);
  });
});
