// pg_net's queue is UNLOGGED on the platform and here: an immediate restart of Postgres with a webhook
// request still queued loses that request. The backstop (app.repost_stuck_webhooks, every minute from
// pg_cron) re-posts the webhook for the row, and the import then runs once; and it posts a lost ingest
// trigger again, and the run starts.
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, stopPostgres } from "../../scripts/stack/postgres.ts";
import { stopProcess } from "../../scripts/stack/processes.ts";
import { up } from "../../scripts/stack.ts";
import { withClient } from "../support/db.ts";
import { eventually, type LoopbackServer, startLoopbackServer } from "../support/http-server.ts";
import { contactsCsv, uid } from "../support/import/harness.ts";
import { startWorker, type WorkerProcess } from "../support/worker.ts";

const tag = `backstop-${uid()}`;
const ROWS = 600;
let server: LoopbackServer;
let worker: WorkerProcess | undefined;
let jobId: string | undefined;

const q = <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) =>
  withClient(async (c) => (await c.query<T>(sql, params)).rows);

beforeAll(async () => {
  const csv = contactsCsv(ROWS, tag, {});
  server = await startLoopbackServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/csv" }).end(csv);
  });
});

afterAll(async () => {
  await worker?.kill("SIGTERM");
  await server?.close();
  // Whatever happened above, leave the stack whole for the next file.
  await up();
  if (jobId) await q("delete from public.import_jobs where id = $1", [jobId]);
  await q("delete from public.contacts where email like $1", [`%@${tag}.test`]);
  await q("delete from public.ingest_runs where trigger = $1", [tag]);
  await q("delete from app.ingest_triggers where trigger_name = $1", [tag]);
});

describe("a webhook request lost with pg_net's unlogged queue", () => {
  it("is re-posted by the backstop and the row is imported once", { timeout: 180_000 }, async () => {
    const { rows: settings } = await withClient((c) =>
      c.query<{ persistence: string }>(
        "select relpersistence as persistence from pg_class where oid = 'net.http_request_queue'::regclass",
      ),
    );
    expect(settings[0]!.persistence).toBe("u");

    // Nothing sends queued requests while the dispatcher (pg_net's worker) is stopped.
    await stopProcess("net-dispatcher");
    const inserted = await q<{ id: string }>(
      `insert into public.import_jobs (source_url, format, target, batch_size)
       values ($1, 'csv', 'contacts', 100) returning id`,
      [`${server.url}/${tag}.csv`],
    );
    jobId = inserted[0]!.id;
    const queued = await q<{ n: number }>(
      "select count(*)::int as n from net.http_request_queue where convert_from(body, 'UTF8')::jsonb #>> '{record,id}' = $1",
      [jobId],
    );
    expect(queued[0]!.n).toBe(1);
    // A forced ingest trigger, by hand, lost the same way (forced: its run is this trigger's alone).
    await q("select app.trigger_ingest(true, $1)", [tag]);
    const triggerQueued = await q<{ n: number }>(
      "select count(*)::int as n from net.http_request_queue where convert_from(body, 'UTF8')::jsonb ->> 'trigger' = $1",
      [tag],
    );
    expect(triggerQueued[0]!.n).toBe(1);

    stopPostgres("immediate");
    startPostgres();
    await up();
    const after = await q<{ n: number }>("select count(*)::int as n from net.http_request_queue");
    expect(after[0]!.n).toBe(0);

    // The row is still queued with no workflow; wait a little to be sure nothing delivers it.
    await new Promise((r) => setTimeout(r, 2_000));
    const still = await q<{ status: string; workflows: number }>(
      `select j.status, (select count(*)::int from resonate.promises p where p.id = 'import/' || j.id) as workflows
         from public.import_jobs j where j.id = $1`,
      [jobId],
    );
    expect(still[0]).toEqual({ status: "queued", workflows: 0 });
    expect(await q("select id from public.ingest_runs where trigger = $1", [tag])).toEqual([]);

    // What the every-minute cron job runs, with a threshold short enough for a test.
    const reposted = await q<{ n: number }>("select app.repost_stuck_webhooks(interval '1 second') as n");
    expect(reposted[0]!.n).toBeGreaterThanOrEqual(2);
    // A second pass while the first delivery is in flight must not start a second import.
    await q("select app.repost_stuck_webhooks(interval '1 second')");

    // The ingest function records the run as soon as it has started its workflow; the run is canceled
    // before a worker is up, since crawling this database's sources is not this test's business.
    const run = await eventually(
      "the re-posted trigger's run",
      async () => (await q<{ id: string }>("select id from public.ingest_runs where trigger = $1", [tag]))[0],
      30_000,
    );
    expect(await q("select count(*)::int as n from public.ingest_runs where trigger = $1", [tag])).toEqual([
      { n: 1 },
    ]);
    await q("select public.cancel_workflow($1)", [`ingest/${run.id}`]);

    worker = startWorker();
    await worker.waitForOutput('"started"');

    const job = await eventually(
      "the job to finish",
      async () => {
        const r = await q<{ status: string; imported_rows: number; batches_done: number }>(
          "select status, imported_rows, batches_done from public.import_jobs where id = $1",
          [jobId],
        );
        return ["succeeded", "partially_succeeded", "failed"].includes(r[0]!.status) ? r[0] : undefined;
      },
      90_000,
    );
    expect(job).toEqual({ status: "succeeded", imported_rows: ROWS, batches_done: ROWS / 100 });
    const contacts = await q<{ n: number }>(
      "select count(*)::int as n from public.contacts where email like $1",
      [`%@${tag}.test`],
    );
    expect(contacts[0]!.n).toBe(ROWS);
    const attempts = await q<{ max: number }>(
      "select max(attempts)::int as max from public.import_batches where job_id = $1",
      [jobId],
    );
    expect(attempts[0]!.max).toBe(1);
  });

  it("is scheduled every minute by pg_cron", async () => {
    const jobs = await q<{ schedule: string; command: string }>(
      "select schedule, command from cron.job where jobname = 'webhook-backstop'",
    );
    expect(jobs).toEqual([{ schedule: "* * * * *", command: "select app.repost_stuck_webhooks()" }]);
  });
});
