// Recovery with a live peer, on real worker processes: a SIGKILLed worker's workflows resume on its
// group's other worker within a tick or two instead of after the lease, because the killed worker's
// database session, its registered proof of life, ends with it; a stalled worker (SIGSTOP) keeps
// its session and so its tasks. And a kill at any moment of a workflow whose steps' creates travel
// with their results re-runs nothing but the step in flight.
import type { Resonate } from "@resonatehq/sdk";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toWorkers } from "../../functions/shared/resonate-client.ts";
import { type FixtureDatabase, fixtureDatabase } from "../support/durable/database.ts";
import { type FixtureWorker, startFixtureWorker } from "../support/durable/processes.ts";
import { eventually } from "../support/http-server.ts";

const DB = "durable_recovery";
// A lease far longer than any wait here: resuming in time proves the lease was not what freed the task.
const ENV = { RESONATE_TTL_MS: "60000", RESONATE_TICK_MS: "100" };
let pool: pg.Pool;
let starter: Resonate;
let db: FixtureDatabase;
const uid = () => Math.random().toString(36).slice(2, 10);

beforeAll(async () => {
  db = await fixtureDatabase(DB, "recovery-starter");
  ({ pool, starter } = db);
});

afterAll(async () => {
  await db?.close();
});

async function pair(group: string, env: Record<string, string> = ENV): Promise<FixtureWorker[]> {
  const ws = [`${group}-a`, `${group}-b`].map((id) => startFixtureWorker(db.url, group, id, env));
  db.workers.push(...ws);
  await Promise.all(ws.map((w) => w.ready()));
  return ws;
}

async function holder(runId: string): Promise<string | undefined> {
  const { rows } = await pool.query<{ pid: string }>(
    "select pid from resonate.tasks where id = $1 and state = 'acquired'",
    [runId],
  );
  return rows[0]?.pid;
}

async function stepCounts(runId: string): Promise<Map<number, number>> {
  const { rows } = await pool.query<{ step: number; n: number }>(
    "select step, count(*)::int as n from step_log where run_id = $1 group by step",
    [runId],
  );
  return new Map(rows.map((r) => [r.step, r.n]));
}

async function settledSteps(runId: string): Promise<Set<string>> {
  const { rows } = await pool.query<{ id: string }>(
    "select id from resonate.promises where id like $1 || ':%' and state = 'resolved'",
    [runId],
  );
  return new Set(rows.map((r) => r.id));
}

/** A fresh worker of the group in the dead one's place, stopped with the fixture database. */
function replace(
  workers: FixtureWorker[],
  dead: FixtureWorker,
  group: string,
  env: Record<string, string>,
): void {
  const replacement = startFixtureWorker(db.url, group, `${dead.id}-next`, env);
  db.workers.push(replacement);
  workers.splice(workers.indexOf(dead), 1, replacement);
}

/** Rows the run's steps wrote, each once however often its step ran. */
async function sideEffects(runId: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    "select count(*)::int as n from side_effects where run_id = $1",
    [runId],
  );
  return rows[0]!.n;
}

const resolved = (runId: string, timeoutMs = 30_000) =>
  eventually(
    `${runId} to resolve`,
    async () => {
      const { rows } = await pool.query(
        "select 1 from resonate.promises where id = $1 and state = 'resolved'",
        [runId],
      );
      return rows.length > 0 ? true : undefined;
    },
    timeoutMs,
  );

describe("a SIGKILLed worker with a live peer in its group", () => {
  it("has its workflow resumed by the peer within 5 s, though its lease is 60 s; finished steps never run again", async () => {
    const group = `kill-${uid()}`;
    const workers = await pair(group);
    const runId = `kill-${uid()}`;
    await starter.beginRpc(runId, "sequential", runId, 30, 150, toWorkers(starter, group));
    await eventually("step 3", async () => ((await stepCounts(runId)).has(3) ? true : undefined), 20_000);
    const held = await holder(runId);
    const killed = workers.find((w) => w.id === held)!;
    const survivor = workers.find((w) => w !== killed)!;
    await killed.kill("SIGKILL");
    const killedAt = Date.now();
    const settled = await settledSteps(runId);

    const resumedAt = await eventually(
      "a step on the survivor",
      async () => {
        const { rows } = await pool.query<{ t: number }>(
          "select extract(epoch from min(at)) * 1000 as t from step_log where run_id = $1 and worker = $2",
          [runId, survivor.id],
        );
        return rows[0]?.t ? Number(rows[0].t) : undefined;
      },
      20_000,
    );
    expect(resumedAt - killedAt).toBeLessThan(5_000);
    await resolved(runId);
    const counts = await stepCounts(runId);
    for (let i = 0; i < 30; i++) {
      const n = counts.get(i) ?? 0;
      if (settled.has(`${runId}:${i}`)) expect(n, `step ${i}, finished before the kill`).toBe(1);
      else expect(n, `step ${i}`).toBeGreaterThanOrEqual(1);
    }
    expect([...counts.values()].filter((n) => n > 1).length).toBeLessThanOrEqual(1);
    await survivor.kill("SIGTERM");
  });
});

describe("a stalled worker (SIGSTOP) with a live peer", () => {
  it("keeps its tasks while its session lives: the peer runs nothing of its workflow, and it finishes after SIGCONT", async () => {
    const group = `stall-${uid()}`;
    const workers = await pair(group);
    const runId = `stall-${uid()}`;
    await starter.beginRpc(runId, "sequential", runId, 10, 100, toWorkers(starter, group));
    await eventually("step 2", async () => ((await stepCounts(runId)).has(2) ? true : undefined), 20_000);
    const held = await holder(runId);
    const stalled = workers.find((w) => w.id === held)!;
    stalled.proc.kill("SIGSTOP");
    try {
      // Thirty of the peer's ticks.
      await new Promise((r) => setTimeout(r, 3_000));
      expect(await holder(runId)).toBe(stalled.id);
    } finally {
      stalled.proc.kill("SIGCONT");
    }
    await resolved(runId);
    const { rows } = await pool.query<{ worker: string; n: number }>(
      "select worker, count(*)::int as n from step_log where run_id = $1 group by worker",
      [runId],
    );
    expect(rows).toEqual([{ worker: stalled.id, n: 10 }]);
    await Promise.all(workers.map((w) => w.kill("SIGTERM")));
  });
});

describe("a kill at a random moment of fast steps", () => {
  // Steps of about a millisecond: most of the time some step's create has not reached the store yet.
  for (const [workflow, n] of [
    ["sequential", 300],
    ["fanOut", 100],
  ] as const) {
    it(`re-runs only what was in flight (${workflow}, ${n} steps, three kills)`, async () => {
      const group = `fast-${uid()}`;
      const workers = await pair(group);
      let kills = 0;
      // Up to three kills; a round whose workflow finished before its kill does not count.
      for (let round = 0; round < 10 && kills < 3; round++) {
        const runId = `fast-${workflow}-${uid()}`;
        await starter.beginRpc(runId, workflow, runId, n, 0, toWorkers(starter, group));
        // The kill comes once a random share of the steps has run, however fast they run.
        const target = 1 + Math.floor(Math.random() * (n / 2));
        const deadline = Date.now() + 20_000;
        while ((await stepCounts(runId)).size < target) {
          if (Date.now() > deadline) throw new Error(`${runId}: ${target} steps did not run within 20 s`);
          await new Promise((r) => setTimeout(r, 2));
        }
        const held = await holder(runId);
        const victim = workers.find((w) => w.id === held);
        if (!victim) continue; // finished before the kill
        await victim.kill("SIGKILL");
        kills++;
        const settled = await settledSteps(runId);
        replace(workers, victim, group, ENV);
        await resolved(runId);
        const counts = await stepCounts(runId);
        const twice: number[] = [];
        for (let i = 0; i < n; i++) {
          const c = counts.get(i) ?? 0;
          if (settled.has(`${runId}:${i}`)) expect(c, `${runId} step ${i}, recorded before the kill`).toBe(1);
          else expect(c, `${runId} step ${i}`).toBeGreaterThanOrEqual(1);
          if (c > 1) twice.push(i);
        }
        // A sequential workflow has one step in flight at a time; a fan-out's in-flight branches are
        // those whose results were not yet recorded.
        if (workflow === "sequential") expect(twice.length, `${runId}: ${twice}`).toBeLessThanOrEqual(1);
        expect(await sideEffects(runId)).toBe(n);
      }
      expect(kills, "rounds whose workflow was still running at the kill").toBeGreaterThan(0);
      await Promise.all(workers.map((w) => w.kill("SIGTERM")));
    });
  }
});

describe("a kill right after a fan-in", () => {
  // The fan-in's results are answered before they are committed (functions/shared/store/steps.ts), so
  // a kill may lose them; it must never lose them once a step after them has started.
  it("never re-runs an awaited branch once a step after it has run", async () => {
    const group = `fanin-${uid()}`;
    // No result goes in the background before the kill: only the workflow's own requests commit them.
    const env = { ...ENV, RESONATE_STEP_STARTED_AFTER_MS: "10000" };
    const workers = await pair(group, env);
    const [n, m, delayMs] = [30, 20, 20];
    let kills = 0;
    for (let round = 0; round < 3; round++) {
      const runId = `fanin-${uid()}`;
      await starter.beginRpc(runId, "fanThenSteps", runId, n, m, delayMs, toWorkers(starter, group));
      await eventually(
        "a step after the fan-in",
        async () => ([...(await stepCounts(runId)).keys()].some((s) => s >= n) ? true : undefined),
        20_000,
      );
      const held = await holder(runId);
      const victim = workers.find((w) => w.id === held);
      if (victim) {
        await victim.kill("SIGKILL");
        kills++;
        replace(workers, victim, group, env);
      }
      await resolved(runId);
      const counts = await stepCounts(runId);
      // The last branch is awaited only at the end: it may be in flight at the kill.
      for (let i = 0; i < n - 1; i++) expect(counts.get(i), `${runId} branch ${i}`).toBe(1);
      const again = [...counts].filter(([s, c]) => s >= n && c > 1).map(([s]) => s);
      expect(again.length, `${runId}: steps after the fan-in run twice: ${again}`).toBeLessThanOrEqual(1);
      expect(await sideEffects(runId)).toBe(n + m);
    }
    expect(kills, "rounds whose workflow was still running at the kill").toBeGreaterThan(0);
    await Promise.all(workers.map((w) => w.kill("SIGTERM")));
  });
});
