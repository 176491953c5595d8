// Worker restarts as a supervisor (npm start, systemd) does them: a worker that starts while its
// database is down must wait for it rather than sit idle, and a worker restarted under the same id
// after a crash must resume its tasks at once rather than after their leases.
import type { Resonate } from "@resonatehq/sdk";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toWorkers } from "../../functions/shared/resonate-client.ts";
import { type FixtureDatabase, fixtureDatabase } from "../support/durable/database.ts";
import { startFixtureWorker } from "../support/durable/processes.ts";
import { freePort } from "../support/free-port.ts";
import { eventually } from "../support/http-server.ts";
import { tcpProxy } from "../support/tcp-proxy.ts";

const DB = "durable_restart";
let url: string;
let pool: pg.Pool;
let starter: Resonate;
let db: FixtureDatabase;
const uid = () => Math.random().toString(36).slice(2, 10);

beforeAll(async () => {
  db = await fixtureDatabase(DB, "restart-starter");
  ({ url, pool, starter } = db);
});

afterAll(async () => {
  await db?.close();
});

async function health(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function state(id: string): Promise<string | undefined> {
  return (await pool.query<{ state: string }>("select state from resonate.promises where id = $1", [id]))
    .rows[0]?.state;
}

describe("a worker started while its database is down", () => {
  it("reports itself not ready, then takes work once the database answers", async () => {
    const gate = await tcpProxy(url);
    try {
      const port = await freePort();
      const group = `down-${uid()}`;
      const w = startFixtureWorker(gate.url, group, `down-${uid()}`, {
        WORKER_HEALTH_PORT: String(port),
        RESONATE_TICK_MS: "100",
      });
      db.workers.push(w);
      await w.ready();
      await eventually("the worker to retry the store", async () =>
        w.output().includes('"event":"durable store unreachable; retrying"') ? true : undefined,
      );
      const down = await health(port);
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ status: "degraded", durable_store: "connecting" });

      await gate.open();
      await eventually(
        "the worker to connect",
        async () => ((await health(port)).status === 200 ? true : undefined),
        20_000,
      );
      expect((await health(port)).body).toMatchObject({ durable_store: "connected", database: "reachable" });
      const runId = `down-${uid()}`;
      await starter.beginRpc(runId, "sequential", runId, 3, 0, toWorkers(starter, group));
      await eventually("the workflow to resolve", async () =>
        (await state(runId)) === "resolved" ? true : undefined,
      );
      expect(w.output()).toContain('"event":"durable store reachable; taking work"');
      expect(w.proc.exitCode).toBeNull();
    } finally {
      await gate.close();
    }
  });
});

describe("a worker restarted under the same id after SIGKILL", () => {
  it("releases the tasks its dead predecessor held and resumes them at once, not after the lease", async () => {
    const group = `same-id-${uid()}`;
    const id = `same-id-${uid()}`;
    // A lease far longer than the test waits: resuming in time proves the task was released.
    const env = { RESONATE_TTL_MS: "120000", RESONATE_TICK_MS: "100" };
    const first = startFixtureWorker(url, group, id, env);
    db.workers.push(first);
    await first.ready();
    const runId = `same-id-${uid()}`;
    await starter.beginRpc(runId, "sequential", runId, 10, 200, toWorkers(starter, group));
    const steps = async () =>
      (
        await pool.query<{ step: number; n: number }>(
          "select step, count(*)::int as n from step_log where run_id = $1 group by step order by step",
          [runId],
        )
      ).rows;
    await eventually("step 3 to start", async () => ((await steps()).length >= 4 ? true : undefined), 20_000);
    await first.kill("SIGKILL");
    const held = await pool.query("select pid from resonate.tasks where id = $1 and state = 'acquired'", [
      runId,
    ]);
    expect(held.rows).toEqual([{ pid: id }]);

    const second = startFixtureWorker(url, group, id, env);
    db.workers.push(second);
    await second.ready();
    await eventually(
      "the workflow to resolve",
      async () => ((await state(runId)) === "resolved" ? true : undefined),
      30_000,
    );
    expect(second.output()).toContain(
      '"event":"released tasks held under this worker id that it is not running"',
    );
    const counts = await steps();
    expect(counts.map((c) => c.step)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Steps finished before the kill ran once; only the one in flight may have run twice.
    expect(counts.filter((c) => c.n > 1).length).toBeLessThanOrEqual(1);
    expect(counts.slice(0, 3).every((c) => c.n === 1)).toBe(true);
    await second.kill("SIGTERM");
  });
});

describe("a worker whose database goes away mid-workflow", () => {
  it("resumes the workflow soon after the database is back, not after the lease", async () => {
    const gate = await tcpProxy(url);
    await gate.open();
    try {
      const group = `outage-${uid()}`;
      const w = startFixtureWorker(gate.url, group, `outage-${uid()}`, {
        RESONATE_TTL_MS: "120000",
        RESONATE_TICK_MS: "100",
      });
      db.workers.push(w);
      await w.ready();
      const runId = `outage-${uid()}`;
      await starter.beginRpc(runId, "napping", 6, 1_000, toWorkers(starter, group));
      const settledSteps = async () =>
        (
          await pool.query<{ n: number }>(
            "select count(*)::int as n from resonate.promises where id like $1 || ':%' and state = 'resolved'",
            [runId],
          )
        ).rows[0]!.n;
      await eventually("two steps", async () => ((await settledSteps()) >= 2 ? true : undefined), 20_000);
      // The step running now ends while the database is away: its result is answered at once, its
      // write fails and is tried again, and the workflow's next step waits for it.
      await gate.close();
      await new Promise((r) => setTimeout(r, 2_500));
      await gate.open();
      await eventually(
        "the workflow to resolve",
        async () => ((await state(runId)) === "resolved" ? true : undefined),
        30_000,
      );
      // Picked up where it was, in place: neither the workflow nor any step ran again, the step that
      // ended in the outage included.
      const started = w
        .output()
        .split("\n")
        .filter((line) => line.includes('"event":"step started"'))
        .map((line) => (JSON.parse(line) as { step_id: string }).step_id);
      expect(started.sort()).toEqual([runId, ...[0, 1, 2, 3, 4, 5].map((i) => `${runId}:${i}`)]);
      expect(w.output()).toContain('"event":"durable store reachable; taking work"');
      expect(w.proc.exitCode).toBeNull();
    } finally {
      await gate.close();
    }
  });
});
