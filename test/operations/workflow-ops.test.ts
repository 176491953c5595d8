// The SQL operations core on a database of its own: the workflow_runs view, workflow_steps, cancel and
// retry, driven by a real worker process. The workflows are the durable-store fixtures, started under
// the ids the three workloads use, so the view joins them to real import, image and ingest rows.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Resonate } from "@resonatehq/sdk";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createResonate, toWorkers } from "../../functions/shared/resonate-client.ts";
import { dropDatabase, freshDatabase } from "../support/db.ts";
import { type FixtureWorker, startFixtureWorker } from "../support/durable/processes.ts";
import { eventually } from "../support/http-server.ts";

const DB = "operations_test";
const GROUP = "ops-workers";
let url: string;
let pool: pg.Pool;
let starter: Resonate;
let worker: FixtureWorker;

interface RunRow {
  workflow_id: string;
  kind: string;
  status: string;
  durable_state: string | null;
  done: number | null;
  total: number | null;
  attempts: number;
  retries: number;
  last_error: string | null;
}

async function run(workflowId: string): Promise<RunRow | undefined> {
  const base = workflowId.replace(/\/retry-\d+$/, "");
  const { rows } = await pool.query<RunRow>(
    "select * from public.workflow_runs where workflow_id = $1 or workflow_id like $1 || '/retry-%'",
    [base],
  );
  return rows[0];
}

async function durableState(id: string): Promise<string | undefined> {
  return (await pool.query<{ state: string }>("select state from resonate.promises where id = $1", [id]))
    .rows[0]?.state;
}

async function steps(runId: string): Promise<number> {
  return (
    await pool.query<{ n: number }>("select count(*)::int as n from step_log where run_id = $1", [runId])
  ).rows[0]!.n;
}

beforeAll(async () => {
  url = await freshDatabase(DB);
  pool = new pg.Pool({ connectionString: url, max: 4 });
  await pool.query(readFileSync(join(import.meta.dirname, "../support/durable/schema.sql"), "utf8"));
  worker = startFixtureWorker(url, GROUP, "ops-worker", { RESONATE_TTL_MS: "5000", RESONATE_TICK_MS: "100" });
  await worker.ready();
  starter = createResonate({
    databaseUrl: url,
    group: "ops-starter",
    resonate: { serverUrl: undefined, group: "ops-starter", ttlMs: 10_000, tickMs: 100 },
  });
});

afterAll(async () => {
  await worker?.kill();
  await starter?.stop();
  await pool?.end();
  await dropDatabase(DB);
});

describe("workflow_runs and workflow_steps", () => {
  it("show an import job's workflow with its durable state and steps", async () => {
    const { rows } = await pool.query<{ id: string }>(
      "insert into import_jobs (source_url, format, target, batch_size) values ('file:///demo.csv', 'csv', 'contacts', 10) returning id",
    );
    const wf = `import/${rows[0]!.id}`;
    await starter.beginRpc(wf, "sequential", wf, 3, 0, toWorkers(starter, GROUP));
    await eventually(
      "resolved",
      async () => ((await durableState(wf)) === "resolved" ? true : undefined),
      20_000,
    );
    const r = (await run(wf))!;
    expect(r).toMatchObject({ workflow_id: wf, kind: "import", durable_state: "resolved", retries: 0 });
    expect(r.attempts).toBeGreaterThanOrEqual(1);
    const s = await pool.query<{ func: string; kind: string; state: string; duration_ms: string }>(
      "select * from public.workflow_steps($1)",
      [wf],
    );
    expect(s.rows.map((x) => [x.func, x.kind, x.state])).toEqual([
      ["step", "local", "resolved"],
      ["step", "local", "resolved"],
      ["step", "local", "resolved"],
    ]);
    // Local steps retry inside the worker; the store has no attempt count for them.
    expect(s.rows.map((x) => (x as unknown as { attempts: number | null }).attempts)).toEqual([
      null,
      null,
      null,
    ]);
    expect(Number(s.rows[0]!.duration_ms)).toBeGreaterThanOrEqual(0);
  });
});

describe("cancel_workflow", () => {
  it("stops a running workflow: no step runs after the cancel, and the run shows canceled", async () => {
    const { rows } = await pool.query<{ id: string }>(
      "insert into image_requests (prompt) values ('a lighthouse at dusk') returning id",
    );
    const wf = `images/${rows[0]!.id}`;
    await starter.beginRpc(wf, "sequential", wf, 40, 150, toWorkers(starter, GROUP));
    await eventually("three steps", async () => ((await steps(wf)) >= 3 ? true : undefined), 20_000);
    const canceled = await pool.query<{ n: number }>("select public.cancel_workflow($1) as n", [wf]);
    expect(canceled.rows[0]!.n).toBeGreaterThanOrEqual(1);
    expect(await durableState(wf)).toBe("rejected_canceled");
    expect((await run(wf))!.status).toBe("canceled");
    const row = await pool.query("select status, error from image_requests where id = $1", [rows[0]!.id]);
    expect(row.rows[0]).toEqual({
      status: "failed",
      error: "canceled with cancel_workflow: 0 of 3 styles were generated; retry_workflow generates the rest",
    });
    await new Promise((r) => setTimeout(r, 500));
    const after = await steps(wf);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await steps(wf)).toBe(after);
    expect(after).toBeLessThan(40);
    expect(worker.proc.exitCode).toBeNull();
    expect((await pool.query<{ n: number }>("select public.cancel_workflow($1) as n", [wf])).rows[0]!.n).toBe(
      0,
    );
  });

  /** A workflow's root task, acquired, and under it a local step or a child workflow with its own task. */
  async function workflowWithChild(child: "step" | "workflow"): Promise<[string, string]> {
    const wf = `images/${crypto.randomUUID()}`;
    const head = { corrId: "c", version: "2026-04-01" };
    const rpc = (kind: string, data: unknown) =>
      pool.query("select resonate.resonate_rpc($1::jsonb) as res", [JSON.stringify({ kind, head, data })]);
    await rpc("task.create", {
      pid: "ops-fence",
      ttl: 60_000,
      action: {
        kind: "promise.create",
        head,
        data: {
          id: wf,
          timeoutAt: Date.now() + 60_000,
          param: {},
          tags: { "resonate:target": "poll://any@nobody", "resonate:scope": "global", "resonate:branch": wf },
        },
      },
    });
    await rpc("task.fence", {
      id: wf,
      version: 1,
      action: {
        kind: "promise.create",
        head,
        data: {
          id: `${wf}:0`,
          timeoutAt: Date.now() + 60_000,
          param: {},
          tags:
            child === "step"
              ? { "resonate:scope": "local", "resonate:branch": wf, "resonate:parent": wf }
              : { "resonate:scope": "global", "resonate:target": "poll://any@nobody", "resonate:parent": wf },
        },
      },
    });
    return [wf, `${wf}:0`];
  }

  /** Holds the first row as a worker's session would, starts a cancel, and once the cancel waits for
   *  that session, takes the second row: at once, unless the cancel already holds it (a deadlock). */
  async function lockBesideCancel(wf: string, first: string, second: string): Promise<number> {
    const worker = await pool.connect();
    try {
      await worker.query("begin");
      await worker.query(first);
      const backendPid = (await worker.query("select pg_backend_pid() as pid")).rows[0].pid;
      const canceling = pool.query<{ n: number }>("select public.cancel_workflow($1) as n", [wf]);
      await eventually("the cancel waiting for a row lock", async () => {
        const { rows } = await pool.query(
          "select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%cancel_workflow%' and $1::int = any (pg_blocking_pids(pid))",
          [backendPid],
        );
        return rows.length > 0 ? true : undefined;
      });
      const t0 = performance.now();
      await worker.query(second);
      expect(performance.now() - t0, "the worker's session took its second row without waiting").toBeLessThan(
        500,
      );
      await worker.query("commit");
      return (await canceling).rows[0]!.n;
    } finally {
      await worker.query("rollback").catch(() => {});
      worker.release();
    }
  }

  it("takes the workflow's rows in the order a worker's fence does, so it never deadlocks with one", async () => {
    const [wf, step] = await workflowWithChild("step");
    // A fence on the step: the workflow's promise row first, then the step's (bytewise id order).
    const lock = (id: string) => `select 1 from resonate.promises where id = '${id}' for no key update`;
    expect(await lockBesideCancel(wf, lock(wf), lock(step))).toBe(2);
    expect(await durableState(wf)).toBe("rejected_canceled");
    expect(await durableState(step)).toBe("rejected_canceled");
  });

  it("takes the tasks in the order a worker's heartbeat does, so it never deadlocks with one", async () => {
    const [wf, child] = await workflowWithChild("workflow");
    // A heartbeat covering both tasks locks them by id.
    const lock = (id: string) => `select 1 from resonate.tasks where id = '${id}' for no key update`;
    expect(await lockBesideCancel(wf, lock(wf), lock(child))).toBe(2);
    expect(await durableState(wf)).toBe("rejected_canceled");
    expect(await durableState(child)).toBe("rejected_canceled");
  });

  it("refuses an unknown workflow", async () => {
    await expect(pool.query("select public.cancel_workflow('images/nope')")).rejects.toThrow(
      /no workflow images\/nope/,
    );
  });

  it("closes the workload's row too, failed with a message saying it was canceled, and only once", async () => {
    const job = (
      await pool.query<{ id: string }>(
        `insert into import_jobs (source_url, format, status, batches_total, batches_done, started_at)
         values ('file:///c.csv', 'csv', 'importing', 5, 2, now()) returning id`,
      )
    ).rows[0]!.id;
    await pool.query(
      `insert into import_batches (job_id, batch_index, rows, status, attempts, error)
       values ($1, 0, 10, 'done', 1, null), ($1, 2, 10, 'retrying', 2, 'attempt 2: boom'), ($1, 3, 10, 'pending', 0, null)`,
      [job],
    );
    const runId = `2026-11-21-cancel-${Date.now()}`;
    await pool.query("insert into ingest_runs (id, status) values ($1, 'crawling')", [runId]);
    const ids = [`import/${job}`, `ingest/${runId}`];
    for (const wf of ids) await starter.beginRpc(wf, "sequential", wf, 40, 150, toWorkers(starter, GROUP));
    for (const wf of ids) {
      await eventually("a step", async () => ((await steps(wf)) >= 1 ? true : undefined), 20_000);
      await pool.query("select public.cancel_workflow($1)", [wf]);
    }
    const j = (await pool.query("select status, error, finished_at from import_jobs where id = $1", [job]))
      .rows[0];
    expect(j.status).toBe("failed");
    expect(j.error).toBe(
      "canceled with cancel_workflow; the finished batches (batches_done) stay imported, and retry_workflow resumes at the next one",
    );
    expect(j.finished_at).not.toBeNull();
    const b = await pool.query(
      "select batch_index, status, error from import_batches where job_id = $1 order by 1",
      [job],
    );
    expect(b.rows).toEqual([
      { batch_index: 0, status: "done", error: null },
      { batch_index: 2, status: "failed", error: "canceled while attempt 2: boom" },
      { batch_index: 3, status: "pending", error: null },
    ]);
    const i = (await pool.query("select status, error from ingest_runs where id = $1", [runId])).rows[0];
    expect(i).toEqual({
      status: "failed",
      error: "canceled with cancel_workflow; retry_workflow runs it again",
    });

    // A second cancel finds nothing pending and leaves the rows alone.
    await pool.query("update import_jobs set error = 'looked at' where id = $1", [job]);
    expect(
      (await pool.query<{ n: number }>("select public.cancel_workflow($1) as n", [ids[0]])).rows[0]!.n,
    ).toBe(0);
    expect((await pool.query("select error from import_jobs where id = $1", [job])).rows[0].error).toBe(
      "looked at",
    );
  });

  it("leaves the row of a workflow that had already finished alone", async () => {
    const runId = `2026-11-21-done-${Date.now()}`;
    await pool.query("insert into ingest_runs (id, status) values ($1, 'crawling')", [runId]);
    const wf = `ingest/${runId}`;
    await starter.beginRpc(wf, "sequential", wf, 1, 0, toWorkers(starter, GROUP));
    await eventually(
      "resolved",
      async () => ((await durableState(wf)) === "resolved" ? true : undefined),
      20_000,
    );
    expect((await pool.query<{ n: number }>("select public.cancel_workflow($1) as n", [wf])).rows[0]!.n).toBe(
      0,
    );
    expect((await pool.query("select status from ingest_runs where id = $1", [runId])).rows[0].status).toBe(
      "crawling",
    );
  });
});

describe("retry_workflow", () => {
  it("restarts a failed workflow under a fresh id with the same function and arguments", async () => {
    const runId = `2026-11-21-retry-${Date.now()}`;
    await pool.query("insert into ingest_runs (id) values ($1)", [runId]);
    const wf = `ingest/${runId}`;
    await starter.beginRpc(wf, "gated", wf, 2, 0, toWorkers(starter, GROUP));
    await eventually(
      "the first attempt to fail",
      async () => ((await durableState(wf)) === "rejected" ? true : undefined),
      20_000,
    );
    expect((await run(wf))!.durable_state).toBe("rejected");

    await pool.query("insert into gates (run_id) values ($1)", [wf]);
    const { rows } = await pool.query<{ id: string }>("select public.retry_workflow($1) as id", [wf]);
    expect(rows[0]!.id).toBe(`${wf}/retry-1`);
    await eventually(
      "the retry to succeed",
      async () => ((await durableState(`${wf}/retry-1`)) === "resolved" ? true : undefined),
      20_000,
    );
    const r = (await run(wf))!;
    expect(r).toMatchObject({ workflow_id: `${wf}/retry-1`, durable_state: "resolved", retries: 1 });
    // The retry ran the same workflow with the same arguments; its side effects did not double.
    expect(
      (await pool.query<{ n: number }>("select count(*)::int as n from side_effects where run_id = $1", [wf]))
        .rows[0]!.n,
    ).toBe(2);
    await expect(pool.query("select public.retry_workflow($1)", [wf])).rejects.toThrow(
      /succeeded; nothing to retry/,
    );
  });

  it("says why a row whose workflow never started cannot be retried", async () => {
    const refused = (
      await pool.query<{ id: string }>(
        "insert into import_jobs (source_url, status, error) values ('x', 'failed', 'batch_size 0 is out of range') returning id",
      )
    ).rows[0]!.id;
    await expect(pool.query("select public.retry_workflow($1)", [`import/${refused}`])).rejects.toThrow(
      `workflow import/${refused} never started: its row was refused (batch_size 0 is out of range); fix the input and insert a new row`,
    );
    const queued = (
      await pool.query<{ id: string }>("insert into import_jobs (source_url) values ('x') returning id")
    ).rows[0]!.id;
    await expect(pool.query("select public.retry_workflow($1)", [`import/${queued}`])).rejects.toThrow(
      `workflow import/${queued} has not started yet (its row is queued)`,
    );
  });

  it("refuses to retry a workflow that is still running", async () => {
    const { rows } = await pool.query<{ id: string }>(
      "insert into image_requests (prompt) values ('still running') returning id",
    );
    const wf = `images/${rows[0]!.id}`;
    await starter.beginRpc(wf, "sequential", wf, 20, 200, toWorkers(starter, GROUP));
    await eventually("a step", async () => ((await steps(wf)) >= 1 ? true : undefined), 20_000);
    await expect(pool.query("select public.retry_workflow($1)", [wf])).rejects.toThrow(
      /still running; cancel it first/,
    );
    await pool.query("select public.cancel_workflow($1)", [wf]);
  });
});

describe("who may use them", () => {
  for (const role of ["anon", "authenticated"]) {
    it(`${role} can read no run, step or durable state and cannot cancel or retry`, async () => {
      const c = await pool.connect();
      try {
        for (const sql of [
          "select * from public.workflow_runs",
          "select * from public.workflow_steps('images/x')",
          "select public.cancel_workflow('images/x')",
          "select public.retry_workflow('images/x')",
          "select * from resonate.promises",
          "select resonate.process_timeouts()",
        ]) {
          await c.query("begin");
          await c.query(`set local role ${role}`);
          await expect(c.query(sql), sql).rejects.toThrow(/permission denied/);
          await c.query("rollback");
        }
      } finally {
        c.release();
      }
    });
  }
});
