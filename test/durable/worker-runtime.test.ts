import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Resonate } from "@resonatehq/sdk";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toWorkers } from "../../functions/shared/resonate-client.ts";
import { type FixtureDatabase, fixtureDatabase } from "../support/durable/database.ts";
import { startFixtureWorker } from "../support/durable/processes.ts";
import { freePort } from "../support/free-port.ts";
import { eventually } from "../support/http-server.ts";
import { startWorker } from "../support/worker.ts";

const DB = "durable_runtime";
let url: string;
let pool: pg.Pool;
let starter: Resonate;
let db: FixtureDatabase;
const uid = () => Math.random().toString(36).slice(2, 10);

beforeAll(async () => {
  db = await fixtureDatabase(DB, "runtime-starter");
  ({ url, pool, starter } = db);
});

afterAll(async () => {
  await db?.close();
});

describe("WORKER_CONCURRENCY", () => {
  it("caps how many tasks one worker runs at once", async () => {
    const group = `cap-${uid()}`;
    const w = startFixtureWorker(url, group, `cap-${uid()}`, {
      WORKER_CONCURRENCY: "2",
      RESONATE_TICK_MS: "100",
    });
    db.workers.push(w);
    await w.ready();
    const runs = Array.from({ length: 6 }, () => `cap-${uid()}`);
    await Promise.all(
      runs.map((r) => starter.beginRpc(r, "sequential", r, 1, 600, toWorkers(starter, group))),
    );
    await eventually(
      "all six runs",
      async () => {
        const { rows } = await pool.query<{ n: number }>(
          "select count(*)::int as n from resonate.promises where id = any($1) and state = 'resolved'",
          [runs],
        );
        return rows[0]!.n === 6 ? true : undefined;
      },
      30_000,
    );
    const { rows } = await pool.query<{ t: number }>(
      "select extract(epoch from at) * 1000 as t from step_log where run_id = any($1) order by at",
      [runs],
    );
    const starts = rows.map((r) => Number(r.t));
    expect(starts).toHaveLength(6);
    // With two slots, the i-th start waits for a slot freed by the (i-2)-th run's 600 ms step.
    for (let i = 2; i < starts.length; i++) expect(starts[i]! - starts[i - 2]!).toBeGreaterThanOrEqual(550);
  });
});

describe("health check", () => {
  it("answers 200 with what the worker is doing, and 503 while it stops", async () => {
    // A port the kernel just handed out and nobody holds (a fixed random range can meet a connection's
    // own ephemeral port, and a run here hit one).
    const port = await freePort();
    const group = `health-${uid()}`;
    const w = startFixtureWorker(url, group, `health-${uid()}`, {
      WORKER_HEALTH_PORT: String(port),
      WORKER_SHUTDOWN_GRACE_MS: "3000",
      RESONATE_TICK_MS: "100",
    });
    db.workers.push(w);
    await w.ready();
    // 503 until the durable store's connection is up, a moment after the process starts.
    const idle = await eventually("the worker to be ready", async () => {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      return res.status === 200 ? res : undefined;
    });
    expect(await idle.json()).toMatchObject({
      status: "ok",
      database: "reachable",
      durable_store: "connected",
      worker: w.id,
      tasks_running: 0,
    });

    const runId = `health-${uid()}`;
    await starter.beginRpc(runId, "sequential", runId, 20, 300, toWorkers(starter, group));
    await eventually("the workflow to start", async () => {
      const body = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as {
        tasks_running: number;
      };
      return body.tasks_running === 1 ? true : undefined;
    });
    w.proc.kill("SIGTERM");
    await w.waitForStopping();
    const stopping = await fetch(`http://127.0.0.1:${port}/health`);
    expect(stopping.status).toBe(503);
    expect(await stopping.json()).toMatchObject({ status: "stopping", tasks_running: 1 });
  });

  it("stops at start with a message naming a malformed variable", async () => {
    const w = startWorker({ DATABASE_URL: url, WORKER_CONCURRENCY: "lots" });
    const code = await new Promise<number | null>((resolve) => w.proc.once("exit", resolve));
    expect(code).toBe(2);
    expect(w.output()).toContain('WORKER_CONCURRENCY must be an integer from 1 to 1024, got "lots"');
  });

  it("stops with a message, not a stack trace, when WORKER_HEALTH_PORT is taken", async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const port = (taken.address() as AddressInfo).port;
    try {
      const w = startWorker({
        DATABASE_URL: url,
        RESONATE_GROUP: `port-${uid()}`,
        WORKER_HEALTH_PORT: String(port),
      });
      const code = await new Promise<number | null>((resolve) => w.proc.once("exit", resolve));
      expect(code).toBe(1);
      expect(w.output()).toContain(
        `worker: WORKER_HEALTH_PORT ${port} is already in use on 127.0.0.1 (another worker, or another program); choose a free port or stop that process`,
      );
      expect(w.output()).not.toMatch(/^\s+at /m);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});
