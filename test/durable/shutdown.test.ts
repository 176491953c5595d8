import type { Resonate } from "@resonatehq/sdk";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toWorkers } from "../../functions/shared/resonate-client.ts";
import { type FixtureDatabase, fixtureDatabase } from "../support/durable/database.ts";
import { type FixtureWorker, startFixtureWorker } from "../support/durable/processes.ts";
import { eventually } from "../support/http-server.ts";

const DB = "durable_shutdown";
let url: string;
let pool: pg.Pool;
let starter: Resonate;
let db: FixtureDatabase;
const uid = () => Math.random().toString(36).slice(2, 10);
// A long lease: if a handoff relied on the lease lapsing, these tests would time out.
const ENV = { RESONATE_TTL_MS: "120000", RESONATE_TICK_MS: "100" };

function worker(group: string, id: string, graceMs: number): FixtureWorker {
  const w = startFixtureWorker(url, group, id, { ...ENV, WORKER_SHUTDOWN_GRACE_MS: String(graceMs) });
  db.workers.push(w);
  return w;
}

const state = async (id: string) =>
  (await pool.query<{ state: string }>("select state from resonate.promises where id = $1", [id])).rows[0]
    ?.state;
const steps = async (runId: string) =>
  (await pool.query<{ n: number }>("select count(*)::int as n from step_log where run_id = $1", [runId]))
    .rows[0]!.n;

function exitOf(w: FixtureWorker): Promise<{ code: number | null; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => w.proc.once("exit", (code) => resolve({ code, ms: Date.now() - t0 })));
}

beforeAll(async () => {
  db = await fixtureDatabase(DB, "shutdown-starter");
  ({ url, pool, starter } = db);
});

afterAll(async () => {
  await db?.close();
});

describe("SIGTERM", () => {
  it("lets in-flight work finish within the grace period and takes no new task", async () => {
    const group = `graceful-${uid()}`;
    const w = worker(group, `graceful-${uid()}`, 15_000);
    await w.ready();
    const runId = `finish-${uid()}`;
    await starter.beginRpc(runId, "sequential", runId, 8, 150, toWorkers(starter, group));
    await eventually("the first step", async () => ((await steps(runId)) >= 1 ? true : undefined));
    const exited = exitOf(w);
    w.proc.kill("SIGTERM");
    await w.waitForStopping();
    const late = `late-${uid()}`;
    await starter.beginRpc(late, "sequential", late, 1, 0, toWorkers(starter, group));
    const { code } = await exited;
    expect(code).toBe(0);
    expect(await state(runId)).toBe("resolved");
    expect(await steps(runId)).toBe(8);
    // The workflow started after SIGTERM was left for another worker.
    expect(await state(late)).toBe("pending");
    expect(await steps(late)).toBe(0);
    expect(w.output()).toMatch(/"event":"stopped".*"released":\[\]/);

    const next = worker(group, `next-${uid()}`, 1_000);
    await eventually(
      "the late workflow on the next worker",
      async () => ((await state(late)) === "resolved" ? true : undefined),
      20_000,
    );
    await next.kill("SIGTERM");
  });

  it("releases what cannot finish in time, and another worker resumes it at once", async () => {
    const group = `handoff-${uid()}`;
    const w = worker(group, `handoff-${uid()}`, 500);
    await w.ready();
    const runId = `handoff-${uid()}`;
    await starter.beginRpc(runId, "sequential", runId, 30, 200, toWorkers(starter, group));
    await eventually("three steps", async () => ((await steps(runId)) >= 3 ? true : undefined));
    const exited = exitOf(w);
    w.proc.kill("SIGTERM");
    const { code, ms } = await exited;
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5_000);
    expect(w.output()).toMatch(new RegExp(`"event":"stopped".*"released":\\["${runId}"\\]`));

    const t0 = Date.now();
    const next = worker(group, `resume-${uid()}`, 1_000);
    await eventually(
      "the released workflow to finish on the next worker",
      async () => ((await state(runId)) === "resolved" ? true : undefined),
      30_000,
    );
    // Far sooner than the 120 s lease: the release handed it over.
    expect(Date.now() - t0).toBeLessThan(20_000);
    const { rows } = await pool.query<{ n: number }>(
      "select count(*)::int as n from side_effects where run_id = $1",
      [runId],
    );
    expect(rows[0]!.n).toBe(30);
    await next.kill("SIGTERM");
  });

  it("finishes a task whose acquire was still in flight, which the store does not yet show as held", async () => {
    // Holds the acquire of this test's task open for a second, so SIGTERM lands inside it every time.
    await pool.query(`
      create or replace function public.slow_acquire() returns trigger language plpgsql as $$
      begin
        if old.state = 'pending' and new.state = 'acquired' and new.id like 'slow-acquire-%' then
          perform pg_sleep(1);
        end if;
        return new;
      end $$;
      create trigger slow_acquire before update on resonate.tasks
        for each row execute function public.slow_acquire()`);
    try {
      const group = `acquiring-${uid()}`;
      const w = worker(group, `acquiring-${uid()}`, 15_000);
      await w.ready();
      const runId = `slow-acquire-${uid()}`;
      await starter.beginRpc(runId, "sequential", runId, 3, 50, toWorkers(starter, group));
      await eventually("the acquire to be in flight", async () => {
        const { rows } = await pool.query(
          "select 1 from pg_stat_activity where datname = current_database() and wait_event = 'PgSleep' and query like '%resonate_rpc%'",
        );
        return rows.length > 0 ? true : undefined;
      });
      const exited = exitOf(w);
      w.proc.kill("SIGTERM");
      const { code } = await exited;
      expect(code).toBe(0);
      expect(await state(runId)).toBe("resolved");
      expect(await steps(runId)).toBe(3);
      expect(w.output()).toMatch(/"event":"stopped".*"released":\[\]/);
    } finally {
      await pool.query("drop trigger if exists slow_acquire on resonate.tasks");
    }
  });
});

describe("worker logs", () => {
  it("writes one JSON line per step with workflow id, step, duration and state", async () => {
    const group = `logs-${uid()}`;
    const w = worker(group, `logs-${uid()}`, 1_000);
    await w.ready();
    const runId = `logs-${uid()}`;
    await starter.beginRpc(runId, "sequential", runId, 2, 50, toWorkers(starter, group));
    await eventually("resolved", async () => ((await state(runId)) === "resolved" ? true : undefined));
    const lines = w
      .output()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const finished = lines.filter((l) => l.event === "step finished" && l.workflow_id === runId);
    expect(finished.map((l) => l.step_id)).toEqual(
      expect.arrayContaining([`${runId}:0`, `${runId}:1`, runId]),
    );
    for (const l of finished) {
      expect(l.state).toBe("resolved");
      expect(typeof l.duration_ms).toBe("number");
      expect(l.worker).toBe(w.id);
    }
    await w.kill("SIGTERM");
  });
});
