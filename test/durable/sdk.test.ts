// The real SDK on the `resonate` schema: every workflow feature the app uses, run for real against a
// database of its own, through our Network adapter and through the SDK's own PostgresNetwork, which
// stays the reference client (the adapter's entry points are additions to the schema).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Constant, type Context, Exponential, type Resonate } from "@resonatehq/sdk";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropDatabase, freshDatabase } from "../support/db.ts";
import { NETWORKS, resonateOn } from "../support/durable/networks.ts";
import { startFixtureWorker } from "../support/durable/processes.ts";
import { registerFixtures } from "../support/durable/workflows.ts";
import { eventually } from "../support/http-server.ts";

const DB = "durable_sdk";
let url: string;
let pool: pg.Pool;
const clients = new Map<string, { resonate: Resonate; group: string }>();
const attempts = new Map<string, number[]>();

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64");
const uid = () => Math.random().toString(36).slice(2, 10);

async function countSteps(runId: string): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    "select count(*)::int as n from step_log where run_id = $1",
    [runId],
  );
  return rows[0]!.n;
}

async function flaky(_ctx: Context, key: string, failures: number): Promise<string> {
  const list = attempts.get(key) ?? [];
  list.push(Date.now());
  attempts.set(key, list);
  if (list.length <= failures) throw new Error(`flaky step failed on attempt ${list.length}`);
  return `ok after ${list.length}`;
}

async function recordPromise(_ctx: Context, runId: string, promiseId: string): Promise<void> {
  await pool.query("insert into awaited (run_id, promise_id) values ($1, $2)", [runId, promiseId]);
}

/** Starts the approval workflow and returns its handle and the id of the promise it waits on. */
async function startApproval(resonate: Resonate, runId: string) {
  const handle = await resonate.beginRun(runId, "approval", runId, 60_000);
  const promiseId = await eventually("the awaited promise id", async () => {
    const { rows } = await pool.query<{ promise_id: string }>(
      "select promise_id from awaited where run_id = $1",
      [runId],
    );
    return rows[0]?.promise_id;
  });
  return { handle, promiseId };
}

beforeAll(async () => {
  url = await freshDatabase(DB);
  pool = new pg.Pool({ connectionString: url, max: 8 });
  await pool.query(readFileSync(join(import.meta.dirname, "../support/durable/schema.sql"), "utf8"));
  await pool.query("create table awaited (run_id text primary key, promise_id text not null)");
  for (const name of NETWORKS) {
    const group = `sdk-e2e-${clients.size}`;
    const pid = `sdk-test-${process.pid}-${clients.size}`;
    const resonate = resonateOn(name, url, group, pid);
    register(resonate, group);
    clients.set(name, { resonate, group });
  }
});

function register(resonate: Resonate, group: string): void {
  registerFixtures(resonate, { pool, worker: "in-process" });

  resonate.register("callRemote", function* (ctx: Context, group: string) {
    return yield* ctx.rpc<{ sum: number; worker: string }>("remoteAdd", 2, 3, ctx.options({ target: group }));
  });
  resonate.register("sleeper", function* (ctx: Context, ms: number) {
    const before = yield* ctx.date.now();
    yield* ctx.sleep(ms);
    const after = yield* ctx.date.now();
    return after - before;
  });
  resonate.register("approval", function* (ctx: Context, runId: string, timeout: number) {
    const p = yield* ctx.promise<string>({ timeout });
    yield* ctx.run(recordPromise, runId, p.id);
    try {
      return `approved: ${yield* p}`;
    } catch {
      return "not approved";
    }
  });
  resonate.register("startDetached", function* (ctx: Context, runId: string) {
    yield* ctx.detached("sequential", runId, 3, 0, ctx.options({ target: group }));
    return "started";
  });
  resonate.register("retrying", function* (ctx: Context, key: string, failures: number) {
    return yield* ctx.run(
      flaky,
      key,
      failures,
      ctx.options({
        retryPolicy: new Exponential({ delay: 200, factor: 2, maxRetries: 5, maxDelay: 5_000 }),
      }),
    );
  });
  resonate.register("alwaysFails", function* (ctx: Context, key: string) {
    return yield* ctx.run(
      flaky,
      key,
      1_000,
      ctx.options({ retryPolicy: new Constant({ delay: 50, maxRetries: 3 }) }),
    );
  });
}

afterAll(async () => {
  for (const { resonate } of clients.values()) await resonate.stop();
  await pool?.end();
  await dropDatabase(DB);
});

describe.each(NETWORKS)("SDK on %s and the resonate schema", (name) => {
  let resonate: Resonate;
  beforeAll(() => {
    resonate = clients.get(name)!.resonate;
  });

  it("runs sequential ctx.run steps, each exactly once", async () => {
    const runId = `seq-${uid()}`;
    expect(await resonate.run(runId, "sequential", runId, 5, 0)).toBe(10);
    expect(await countSteps(runId)).toBe(5);
    const { rows } = await pool.query<{ state: string }>(
      "select state from resonate.promises where id = $1",
      [runId],
    );
    expect(rows[0]?.state).toBe("resolved");
  });

  it("fans out with ctx.beginRun and fans in, branches running in parallel", async () => {
    const runId = `fan-${uid()}`;
    const started = Date.now();
    expect(await resonate.run(runId, "fanOut", runId, 10, 300)).toBe(45);
    const elapsed = Date.now() - started;
    expect(await countSteps(runId)).toBe(10);
    // Ten 300 ms branches run one after another would take 3 s.
    expect(elapsed).toBeLessThan(1_500);
  });

  it("calls a function on a second worker process with ctx.rpc", async () => {
    const remoteGroup = `remote-${uid()}`;
    const remote = startFixtureWorker(url, remoteGroup, "remote-worker");
    try {
      await remote.ready();
      const res = await resonate.run<{ sum: number; worker: string }>(
        `rpc-${uid()}`,
        "callRemote",
        remoteGroup,
      );
      expect(res).toEqual({ sum: 5, worker: "remote-worker" });
    } finally {
      await remote.kill("SIGTERM");
    }
  });

  it("sleeps durably with ctx.sleep", async () => {
    const slept = await resonate.run<number>(`sleep-${uid()}`, "sleeper", 1_500);
    expect(slept).toBeGreaterThanOrEqual(1_500);
    expect(slept).toBeLessThan(10_000);
  });

  it("waits on ctx.promise resolved from outside by SQL", async () => {
    const runId = `sql-approval-${uid()}`;
    const { handle, promiseId } = await startApproval(resonate, runId);
    const { rows } = await pool.query<{ res: { head: { status: number } } }>(
      `select resonate.resonate_rpc(jsonb_build_object(
         'kind', 'promise.settle',
         'head', jsonb_build_object('corrId', 'sql-test', 'version', '2026-04-01'),
         'data', jsonb_build_object('id', $1::text, 'state', 'resolved',
                                    'value', jsonb_build_object('headers', '{}'::jsonb, 'data', $2::text)))) as res`,
      [promiseId, b64("by SQL")],
    );
    expect(rows[0]!.res.head.status).toBe(200);
    expect(await handle.result()).toBe("approved: by SQL");
  });

  it("waits on ctx.promise resolved from outside with resonate.promises.resolve", async () => {
    const runId = `api-approval-${uid()}`;
    const { handle, promiseId } = await startApproval(resonate, runId);
    await resonate.promises.resolve(promiseId, { data: b64("by the SDK") });
    expect(await handle.result()).toBe("approved: by the SDK");
  });

  it("times a ctx.promise out when nobody resolves it", async () => {
    const runId = `timeout-${uid()}`;
    const result = await resonate.run<string>(runId, "approval", runId, 1_500);
    expect(result).toBe("not approved");
    const { rows } = await pool.query<{ state: string }>(
      "select p.state from resonate.promises p join awaited a on a.promise_id = p.id where a.run_id = $1",
      [runId],
    );
    expect(rows[0]?.state).toBe("rejected_timedout");
  });

  it("starts a detached workflow that completes on its own", async () => {
    const runId = `detached-${uid()}`;
    expect(await resonate.run(`parent-${runId}`, "startDetached", runId)).toBe("started");
    await eventually(
      "the detached run's three steps",
      async () => ((await countSteps(runId)) === 3 ? true : undefined),
      20_000,
    );
  });

  it("retries a failing step with exponential backoff until it succeeds", async () => {
    const key = `retry-${uid()}`;
    expect(await resonate.run(key, "retrying", key, 2)).toBe("ok after 3");
    const times = attempts.get(key)!;
    expect(times).toHaveLength(3);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(180);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(360);
  });

  it("gives up on a step that always fails after its retry budget and rejects with its error", async () => {
    const key = `fail-${uid()}`;
    await expect(resonate.run(key, "alwaysFails", key)).rejects.toThrow(/flaky step failed on attempt 4/);
    expect(attempts.get(key)).toHaveLength(4);
    const { rows } = await pool.query<{ state: string }>(
      "select state from resonate.promises where id = $1",
      [key],
    );
    expect(rows[0]?.state).toBe("rejected");
  });
});

describe("cron schedules", () => {
  // Both networks at once: the first firing waits for the next minute.
  it("fire through the store's timer loop, for either network", { timeout: 130_000 }, async () => {
    await Promise.all(
      [...clients.values()].map(async ({ resonate, group }) => {
        const runId = `sched-${uid()}`;
        const schedule = await resonate.schedule(
          `schedule-${runId}`,
          "* * * * *",
          "sequential",
          runId,
          1,
          0,
          resonate.options({ target: group }),
        );
        try {
          await eventually(
            "the scheduled run",
            async () => ((await countSteps(runId)) >= 1 ? true : undefined),
            125_000,
          );
          const { rows } = await pool.query<{ id: string }>(
            "select id from resonate.promises where id like $1",
            [`schedule-${runId}-%`],
          );
          expect(rows.length).toBeGreaterThanOrEqual(1);
        } finally {
          await schedule.delete();
        }
      }),
    );
  });
});
