import type { Resonate } from "@resonatehq/sdk";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toWorkers } from "../../functions/shared/resonate-client.ts";
import { postmasterPid, startPostgres, stopPostgres } from "../../scripts/stack/postgres.ts";
import { type FixtureDatabase, fixtureDatabase } from "../support/durable/database.ts";
import { type FixtureWorker, startFixtureWorker } from "../support/durable/processes.ts";
import { eventually } from "../support/http-server.ts";

const DB = "durable_crash";
const STEPS = 20;
const WORKER_ENV = { RESONATE_TTL_MS: "3000", RESONATE_TICK_MS: "100" };
let url: string;
let pool: pg.Pool;
let starter: Resonate;
let db: FixtureDatabase;
const uid = () => Math.random().toString(36).slice(2, 10);

function worker(group: string, id: string): FixtureWorker {
  const w = startFixtureWorker(url, group, id, WORKER_ENV);
  db.workers.push(w);
  return w;
}

async function stepCounts(runId: string): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ step: number; n: number }>(
    "select step, count(*)::int as n from step_log where run_id = $1 group by step",
    [runId],
  );
  return new Map(rows.map((r) => [r.step, r.n]));
}

async function sideEffects(runId: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    "select count(*)::int as n from side_effects where run_id = $1",
    [runId],
  );
  return rows[0]!.n;
}

async function promiseState(id: string): Promise<string | undefined> {
  const { rows } = await pool.query<{ state: string }>("select state from resonate.promises where id = $1", [
    id,
  ]);
  return rows[0]?.state;
}

async function waitResolved(id: string, timeoutMs = 60_000): Promise<void> {
  await eventually(
    `workflow ${id} to resolve`,
    async () => ((await promiseState(id)) === "resolved" ? true : undefined),
    timeoutMs,
  );
}

beforeAll(async () => {
  db = await fixtureDatabase(DB, "crash-starter");
  ({ url, pool, starter } = db);
});

afterAll(async () => {
  await db?.close();
});

describe("SIGKILL mid-workflow", () => {
  // Kill points: early, middle, late, and one drawn at random each run (printed so it reproduces).
  const random = 1 + Math.floor(Math.random() * (STEPS - 2));
  for (const k of [1, 9, STEPS - 2, random]) {
    it(`resumes after the worker dies in step ${k}: earlier steps ran once, the one in flight at most twice`, async () => {
      const group = `crash-${uid()}`;
      const runId = `crash-${k}-${uid()}`;
      const first = worker(group, `${runId}-a`);
      await first.ready();
      await starter.beginRpc(runId, "sequential", runId, STEPS, 100, toWorkers(starter, group));
      await eventually(
        `step ${k} to start`,
        async () => ((await stepCounts(runId)).has(k) ? true : undefined),
        30_000,
      );
      await first.kill("SIGKILL");
      const killedAt = await stepCounts(runId);

      const second = worker(group, `${runId}-b`);
      await second.ready();
      await waitResolved(runId);

      const counts = await stepCounts(runId);
      for (let i = 0; i < STEPS; i++) {
        const n = counts.get(i) ?? 0;
        if (i < k) expect(n, `step ${i} (before the kill)`).toBe(1);
        else if (i === k) expect(n, `step ${k} (in flight)`).toBeGreaterThanOrEqual(1);
        if (i === k) expect(n).toBeLessThanOrEqual(2);
        if (i > k) expect(n, `step ${i} (after the kill)`).toBe(1);
      }
      expect(killedAt.get(k)).toBe(1);
      expect(await sideEffects(runId)).toBe(STEPS);
      await second.kill("SIGTERM");
    });
  }
});

describe("two workers in one group", () => {
  it("run each task on exactly one of them", async () => {
    const group = `pair-${uid()}`;
    const a = worker(group, `pair-a-${uid()}`);
    const b = worker(group, `pair-b-${uid()}`);
    await Promise.all([a.ready(), b.ready()]);
    const runs = Array.from({ length: 12 }, () => `pair-${uid()}`);
    for (const r of runs) await starter.beginRpc(r, "sequential", r, 4, 20, toWorkers(starter, group));
    for (const r of runs) await waitResolved(r);
    const { rows } = await pool.query<{ run_id: string; step: number; n: number; workers: string[] }>(
      `select run_id, step, count(*)::int as n, array_agg(distinct worker) as workers
         from step_log where run_id = any($1) group by run_id, step`,
      [runs],
    );
    expect(rows).toHaveLength(runs.length * 4);
    for (const r of rows) expect(r.n, `${r.run_id} step ${r.step}`).toBe(1);
    const byWorker = await pool.query<{ worker: string }>(
      "select distinct worker from step_log where run_id = any($1)",
      [runs],
    );
    expect(byWorker.rows.length).toBeGreaterThanOrEqual(1);
    await Promise.all([a.kill("SIGTERM"), b.kill("SIGTERM")]);
  });
});

describe("Postgres restart mid-workflow", () => {
  it("the worker reconnects and the workflow completes", { timeout: 120_000 }, async () => {
    const group = `restart-${uid()}`;
    const runId = `restart-${uid()}`;
    const w = worker(group, `${runId}-w`);
    await w.ready();
    await starter.beginRpc(runId, "sequential", runId, STEPS, 150, toWorkers(starter, group));
    await eventually("step 5", async () => ((await stepCounts(runId)).has(5) ? true : undefined), 30_000);
    expect(postmasterPid()).toBeDefined();
    stopPostgres("fast");
    expect(postmasterPid()).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1_000));
    startPostgres();
    await waitResolved(runId, 90_000).catch((err) => {
      throw new Error(`${(err as Error).message}\nworker output:\n${w.output().slice(-4000)}`);
    });
    expect(await sideEffects(runId)).toBe(STEPS);
    expect(w.proc.exitCode).toBeNull();
  });
});
