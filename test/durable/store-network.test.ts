// Our Network adapter (functions/shared/store/) with the real SDK, in process, on a database of its own:
// what a step costs in round trips, what the store shows while a step runs, the order in which a
// deferred step start reaches the store, fencing of a deferred step, and the start-up check.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type Context, Resonate } from "@resonatehq/sdk";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "../../functions/shared/resonate-client.ts";
import { assertAttached } from "../../functions/shared/sdk-contract.ts";
import { StoreNetwork } from "../../functions/shared/store/network.ts";
import { ROOT } from "../../scripts/stack/layout.ts";
import { dropDatabase, freshDatabase } from "../support/db.ts";
import { eventually } from "../support/http-server.ts";

const DB = "durable_store_network";
const GROUP = "store-network";
let url: string;
let pool: pg.Pool;
let resonate: Resonate;
let store: StoreNetwork;
const uid = () => Math.random().toString(36).slice(2, 10);
const gates = new Map<string, () => void>();

const noop = (_ctx: Context, i: number) => i;
const nap = (_ctx: Context, ms: number) => new Promise<number>((r) => setTimeout(() => r(ms), ms));
/** Blocks until the test opens it (so the test decides when the step ends). */
const gate = (_ctx: Context, key: string) => new Promise<string>((r) => gates.set(key, () => r(key)));

async function promise(id: string): Promise<{ state: string; created_at: string } | undefined> {
  const { rows } = await pool.query("select state, created_at from resonate.promises where id = $1", [id]);
  return rows[0];
}

beforeAll(async () => {
  url = await freshDatabase(DB);
  pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on("error", () => {});
  const client = createClient({
    databaseUrl: url,
    group: GROUP,
    resonate: { serverUrl: undefined, group: GROUP, ttlMs: 60_000, tickMs: 100 },
  });
  resonate = client.resonate;
  store = client.store!;
  resonate.register("steps", function* (ctx: Context, n: number) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += yield* ctx.run(noop, i);
    return sum;
  });
  resonate.register("fan", function* (ctx: Context, n: number) {
    const hs = [];
    for (let i = 0; i < n; i++) hs.push(yield* ctx.beginRun(noop, i));
    let sum = 0;
    for (const h of hs) sum += yield* h;
    return sum;
  });
  resonate.register("napThenDone", function* (ctx: Context, ms: number) {
    yield* ctx.run(nap, ms);
    return "done";
  });
  resonate.register("gateThenStep", function* (ctx: Context, key: string) {
    yield* ctx.run(gate, key);
    return yield* ctx.run(noop, 1);
  });
  resonate.register("echo", (_ctx: Context, x: number) => x);
  resonate.register("stepThenRpc", function* (ctx: Context) {
    const first = yield* ctx.beginRun(noop, 1);
    const remote = yield* ctx.rpc<number>("echo", 2, ctx.options({ target: GROUP }));
    return (yield* first) + remote;
  });
  await eventually("the store connection", async () => (store.ready ? true : undefined));
});

afterAll(async () => {
  await resonate?.stop();
  await pool?.end();
  await dropDatabase(DB);
});

describe("round trips", () => {
  it("a sequential workflow costs one round trip per step, plus its start, its end and the caller's wait", async () => {
    const before = store.stats();
    expect(await resonate.run(`seq-${uid()}`, "steps", 40)).toBe(780);
    const after = store.stats();
    expect(after.deferred - before.deferred).toBe(40);
    // task.create, one per step, task.fulfill, and run()'s promise.register_listener for the result; on
    // a loaded machine a step may also outlast the moment after which it is recorded as started.
    const background = after.backgroundCalls - before.backgroundCalls;
    expect(after.roundTrips - before.roundTrips - background).toBeLessThanOrEqual(40 + 3);
  });

  it("a fan-in is one round trip: every branch's create and result travel together", async () => {
    const before = store.stats();
    expect(await resonate.run(`fan-${uid()}`, "fan", 40)).toBe(780);
    const after = store.stats();
    expect(after.deferredResults - before.deferredResults).toBeGreaterThan(0);
    // task.create, the branches, task.fulfill and the caller's listener; on a loaded machine a branch
    // may outlast the moment after which it is recorded as started, and its result then goes alone.
    const background = after.backgroundCalls - before.backgroundCalls;
    const trips = after.roundTrips - before.roundTrips;
    if (background === 0) expect(trips).toBeLessThanOrEqual(1 + 3);
    else expect(trips - background).toBeLessThanOrEqual(40 + 3);
  });

  it("records every step settled, created no later than it settled", async () => {
    const id = `rows-${uid()}`;
    await resonate.run(id, "steps", 5);
    const { rows } = await pool.query(
      "select id, state, created_at <= settled_at as ordered from resonate.promises where id like $1 || ':%' order by id",
      [id],
    );
    expect(rows).toEqual(
      [0, 1, 2, 3, 4].map((i) => ({ id: `${id}:${i}`, state: "resolved", ordered: true })),
    );
  });
});

describe("what the store shows", () => {
  it("a step running longer than a moment is recorded as started while it runs", async () => {
    const id = `long-${uid()}`;
    const done = resonate.run(id, "napThenDone", 1_500);
    const seen = await eventually("the running step in the store", () => promise(`${id}:0`), 1_000);
    expect(seen.state).toBe("pending");
    expect(await done).toBe("done");
    expect((await promise(`${id}:0`))?.state).toBe("resolved");
  });

  it("a step started before an rpc is in the store before the rpc's promise, as the SDK issued them", async () => {
    const id = `order-${uid()}`;
    expect(await resonate.run(id, "stepThenRpc")).toBe(3);
    const { rows } = await pool.query<{ id: string }>(
      "select id from resonate.promises where id like $1 || ':%' order by created_at, id",
      [id],
    );
    expect(rows.map((r) => r.id)).toEqual([`${id}:0`, `${id}:1`]);
  });
});

describe("fencing", () => {
  it("a step that ends after its workflow was canceled has its result refused, and nothing runs after it", async () => {
    const id = `cancel-${uid()}`;
    const handle = await resonate.beginRun(id, "gateThenStep", id);
    await eventually("the gated step to run", async () => (gates.has(id) ? true : undefined));
    const { rows } = await pool.query("select public.cancel_workflow($1) as n", [id]);
    expect(rows[0].n).toBeGreaterThanOrEqual(1);
    gates.get(id)!();
    await expect(handle.result()).rejects.toThrow(/canceled/);
    await new Promise((r) => setTimeout(r, 500));
    const steps = await pool.query<{ id: string; state: string }>(
      "select id, state from resonate.promises where id like $1 || ':%' order by id",
      [id],
    );
    // The gated step's result never landed (canceled, or never recorded at all); no later step started.
    expect(steps.rows.every((r) => r.state !== "resolved")).toBe(true);
    expect(steps.rows.map((r) => r.id)).not.toContain(`${id}:1`);
  });
});

describe("the held-task sweep", () => {
  it("releases a task the store shows held under this worker's id that it does not run", async () => {
    const group = `sweep-${uid()}`;
    const warnings: { event: string; fields?: Record<string, unknown> }[] = [];
    const net = new StoreNetwork({
      connectionString: url,
      group,
      sweepMs: 100,
      log: { info: () => {}, warn: (event, fields) => warnings.push({ event, fields }) },
    });
    const worker = new Resonate({ network: net, group, pid: net.pid, ttl: 60_000 });
    try {
      await eventually("the sweeping worker's session", async () => (net.ready ? true : undefined));
      // Acquired under this worker's id, and never run here: as if the acquire's answer was lost.
      const id = `orphan-${uid()}`;
      const head = { corrId: id, version: "2026-04-01" };
      await pool.query("select resonate.resonate_rpc($1::jsonb)", [
        JSON.stringify({
          kind: "task.create",
          head,
          data: {
            pid: net.pid,
            ttl: 3_600_000,
            action: {
              kind: "promise.create",
              head,
              data: {
                id,
                timeoutAt: Date.now() + 3_600_000,
                param: {},
                tags: { "resonate:target": `poll://any@${group}-nobody`, "resonate:scope": "global" },
              },
            },
          },
        }),
      ]);
      const state = async () =>
        (await pool.query<{ state: string }>("select state from resonate.tasks where id = $1", [id])).rows[0]
          ?.state;
      expect(await state()).toBe("acquired");
      await eventually("the task released", async () => ((await state()) === "pending" ? true : undefined));
      expect(warnings).toContainEqual({
        event: "released tasks held under this worker id that it is not running",
        fields: { tasks: [id] },
      });
    } finally {
      await worker.stop();
    }
  });
});

describe("the SDK contract", () => {
  it("refuses, naming the SDK's version, a network the SDK did not attach the way 0.11.5 does", () => {
    const detached = { attached: () => false };
    expect(() => assertAttached(detached)).toThrow(
      /@resonatehq\/sdk 0\.11\.5: new Resonate\(\{ network \}\) did not/,
    );
  });

  it("no app module reaches into the SDK's private fields", () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith(".ts")) files.push(path);
      }
    };
    for (const dir of ["functions", "scripts", "supabase/functions"]) walk(join(ROOT, dir));
    const reaching = files.filter((f) =>
      /\.core\b|listenClient|getPool\(|\bonMessage\s*=|as unknown as \{ (core|network)/.test(
        readFileSync(f, "utf8"),
      ),
    );
    expect(reaching).toEqual([]);
  });
});
