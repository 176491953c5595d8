// The store's global lock order (promise rows by bytewise id, then task rows by id) held by the requests
// whose settlement cascade reaches another task, against a worker's heartbeat, which locks the tasks it
// names by id. Three real sessions: one holds a row open so that the settling request and the heartbeat
// each queue for their rows at a chosen point, then lets go. Both go through resonate_batch, the worker
// adapter's entry point, which answers a request that hit a deadlock with null instead of retrying it,
// so a deadlock shows up as a missing answer rather than as a one-second stall.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropDatabase, freshDatabase } from "../support/db.ts";
import { eventually } from "../support/http-server.ts";

// biome-ignore lint/suspicious/noExplicitAny: protocol records are untyped JSON.
type Json = any;

const DB = "resonate_lock_order";
const HOUR = 3_600_000;
const WORKER = "w";
const TARGET = "poll://any@g";
let pool: pg.Pool;
let seq = 0;
const uid = (prefix: string) => `${prefix}-${++seq}`;
const req = (kind: string, data: Json) => ({
  kind,
  head: { corrId: `c${++seq}`, version: "2026-04-01" },
  data,
});

async function rpc(kind: string, data: Json): Promise<Json> {
  const { rows } = await pool.query("select resonate.resonate_rpc($1::jsonb) as res", [
    JSON.stringify(req(kind, data)),
  ]);
  expect(rows[0].res.head.status, `${kind} ${JSON.stringify(data)}`).toBe(200);
  return rows[0].res.data;
}

/** A task acquired by WORKER at version 1, as the SDK's run() creates it. */
async function acquiredTask(id: string): Promise<void> {
  await rpc("task.create", {
    pid: WORKER,
    ttl: HOUR,
    action: req("promise.create", {
      id,
      timeoutAt: Date.now() + HOUR,
      param: {},
      tags: { "resonate:target": TARGET, "resonate:scope": "global", "resonate:branch": id },
    }),
  });
}

/** A child of `parent` created by the parent's fence at version 1: a workflow of its own with a target
 *  (a task, pending at version 0), or a local step without one. */
async function child(
  parent: string,
  id: string,
  withTask: boolean,
  timeoutAt = Date.now() + HOUR,
): Promise<void> {
  const tags = withTask
    ? {
        "resonate:target": TARGET,
        "resonate:scope": "global",
        "resonate:parent": parent,
        "resonate:branch": id,
      }
    : { "resonate:scope": "local", "resonate:parent": parent, "resonate:branch": parent };
  await rpc("task.fence", {
    id: parent,
    version: 1,
    action: req("promise.create", { id, timeoutAt, param: {}, tags }),
  });
}

async function task(
  id: string,
): Promise<{ state: string; version: number; resumes: string[]; timer_at: string }> {
  const { rows } = await pool.query(
    "select state, version, resumes::text[] as resumes, timer_at from resonate.tasks where id = $1",
    [id],
  );
  return rows[0];
}

async function blocked(pid: number): Promise<true | undefined> {
  const { rows } = await pool.query<{ n: number }>("select cardinality(pg_blocking_pids($1))::int as n", [
    pid,
  ]);
  return rows[0]!.n > 0 ? true : undefined;
}

const batch = (c: pg.PoolClient, r: Json): Promise<Json> =>
  c
    .query("select resonate.resonate_batch($1::jsonb) as res", [JSON.stringify([[r]])])
    .then((x) => x.rows[0].res[0][0]);

/** Holds the task row `held` open in one session; sends `settling` (a request, through resonate_batch,
 *  or a call of its own) in a second, and once it waits, the heartbeat in a third; once that waits too,
 *  lets go of the row. Returns both answers (null for a request that was chosen as a deadlock victim). */
async function raceBesideHeartbeat(
  held: string,
  settling: Json | ((c: pg.PoolClient) => Promise<Json>),
  heartbeat: Json,
): Promise<[Json, Json]> {
  const [locker, settler, beater] = [await pool.connect(), await pool.connect(), await pool.connect()];
  try {
    const pidOf = async (c: pg.PoolClient) =>
      (await c.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid;
    const [settlerPid, beaterPid] = [await pidOf(settler), await pidOf(beater)];
    await locker.query("begin");
    await locker.query("select 1 from resonate.tasks where id = $1 for no key update", [held]);
    const settled = typeof settling === "function" ? settling(settler) : batch(settler, settling);
    await eventually("the settling request waiting for the held row", () => blocked(settlerPid));
    const beaten = batch(beater, heartbeat);
    await eventually("the heartbeat waiting", () => blocked(beaterPid));
    await locker.query("commit");
    return [await settled, await beaten];
  } finally {
    await locker.query("rollback").catch(() => {});
    for (const c of [locker, settler, beater]) c.release();
  }
}

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: await freshDatabase(DB), max: 6 });
});

afterAll(async () => {
  await pool?.end();
  await dropDatabase(DB);
});

describe("a settlement whose cascade reaches an awaiting task, beside a heartbeat for both tasks", () => {
  it("task.fulfill of a child workflow takes its awaiter's task before its own: no deadlock", async () => {
    const root = uid("lo-fulfill");
    const [awaited, other] = [`${root}:1`, `${root}:2`];
    await acquiredTask(root);
    await child(root, awaited, true);
    await child(root, other, true);
    await rpc("task.acquire", { id: awaited, version: 0, pid: WORKER, ttl: HOUR });
    // The root waits on both children, is woken by the other one and runs again (version 2), its
    // callback on the first child still registered: the first child's result goes to the running root.
    await rpc("task.suspend", {
      id: root,
      version: 1,
      actions: [awaited, other].map((a) => req("promise.register_callback", { awaiter: root, awaited: a })),
    });
    await rpc("promise.settle", { id: other, state: "resolved", value: {} });
    await rpc("task.acquire", { id: root, version: 1, pid: WORKER, ttl: HOUR });
    await pool.query("update resonate.tasks set timer_at = 1 where id = $1", [root]);

    const [fulfilled, beat] = await raceBesideHeartbeat(
      awaited,
      req("task.fulfill", {
        id: awaited,
        version: 1,
        action: req("promise.settle", { id: awaited, state: "resolved", value: {} }),
      }),
      req("task.heartbeat", {
        pid: WORKER,
        tasks: [
          { id: root, version: 2 },
          { id: awaited, version: 1 },
        ],
      }),
    );
    expect(fulfilled?.head.status, "the fulfill was answered, not made a deadlock victim").toBe(200);
    expect(beat?.head.status, "the heartbeat was answered, not made a deadlock victim").toBe(200);
    expect(await task(awaited)).toMatchObject({ state: "fulfilled" });
    expect(await task(root)).toMatchObject({ state: "acquired", version: 2, resumes: [awaited] });
    expect(Number((await task(root)).timer_at), "the heartbeat renewed the root's lease").toBeGreaterThan(
      Date.now() + HOUR / 2,
    );
  });

  it("a fenced settle of a step takes the task waiting on the step before the fencing task: no deadlock", async () => {
    const base = uid("lo-fence");
    // The waiting task's id sorts before the fencing task's.
    const [waiting, fencing] = [`${base}/a`, `${base}/r`];
    const step = `${fencing}:1`;
    await acquiredTask(waiting);
    await acquiredTask(fencing);
    await child(fencing, step, false);
    await rpc("promise.register_callback", { awaited: step, awaiter: waiting });
    await pool.query("update resonate.tasks set timer_at = 1 where id = $1", [waiting]);

    const [fenced, beat] = await raceBesideHeartbeat(
      fencing,
      req("task.fence", {
        id: fencing,
        version: 1,
        action: req("promise.settle", { id: step, state: "resolved", value: {} }),
      }),
      req("task.heartbeat", {
        pid: WORKER,
        tasks: [
          { id: waiting, version: 1 },
          { id: fencing, version: 1 },
        ],
      }),
    );
    expect(fenced?.head.status, "the fence was answered, not made a deadlock victim").toBe(200);
    expect(fenced.data.action.head.status).toBe(200);
    expect(beat?.head.status, "the heartbeat was answered, not made a deadlock victim").toBe(200);
    expect(await task(waiting)).toMatchObject({ state: "acquired", resumes: [step] });
    expect(
      Number((await task(waiting)).timer_at),
      "the heartbeat renewed the waiting task's lease",
    ).toBeGreaterThan(Date.now() + HOUR / 2);
  });
  it("task.suspend converging two children past their deadlines takes both tasks in id order: no deadlock", async () => {
    const root = uid("lo-suspend");
    const [first, second] = [`${root}:1`, `${root}:2`];
    await acquiredTask(root);
    // Two child workflows held by the same worker, both past their deadlines and not yet converged
    // (no timer pass runs here): the suspend's eager convergence settles both and fulfills their tasks.
    const deadline = Date.now() + 300;
    for (const c of [first, second]) {
      await child(root, c, true, deadline);
      await rpc("task.acquire", { id: c, version: 0, pid: WORKER, ttl: HOUR });
    }
    await new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now()) + 50));

    // Awaited in the order the workflow named them, which need not be id order.
    const [suspended, beat] = await raceBesideHeartbeat(
      second,
      req("task.suspend", {
        id: root,
        version: 1,
        actions: [second, first].map((a) => req("promise.register_callback", { awaiter: root, awaited: a })),
      }),
      req("task.heartbeat", {
        pid: WORKER,
        tasks: [
          { id: first, version: 1 },
          { id: second, version: 1 },
        ],
      }),
    );
    expect(suspended?.head.status, "the suspend was answered (300: an awaited promise settled)").toBe(300);
    expect(beat?.head.status, "the heartbeat was answered, not made a deadlock victim").toBe(200);
    expect(await task(first)).toMatchObject({ state: "fulfilled" });
    expect(await task(second)).toMatchObject({ state: "fulfilled" });
  });

  it("cancel_workflow takes the task of a workflow waiting on the canceled one with its own: no deadlock", async () => {
    const base = uid("lo-cancel");
    // A task outside the canceled workflow's tree waits on it (an rpc by explicit id), and its id sorts first.
    const [waiting, canceled] = [`${base}/a`, `${base}/r`];
    await acquiredTask(waiting);
    await acquiredTask(canceled);
    await rpc("promise.register_callback", { awaited: canceled, awaiter: waiting });
    await pool.query("update resonate.tasks set timer_at = 1 where id = $1", [waiting]);

    const [count, beat] = await raceBesideHeartbeat(
      canceled,
      (c: pg.PoolClient) =>
        c.query<{ n: number }>("select public.cancel_workflow($1) as n", [canceled]).then(
          (r) => r.rows[0]!.n,
          (err: Error) => err.message,
        ),
      req("task.heartbeat", {
        pid: WORKER,
        tasks: [
          { id: waiting, version: 1 },
          { id: canceled, version: 1 },
        ],
      }),
    );
    expect(count, "cancel_workflow canceled the workflow, not chosen as a deadlock victim").toBe(1);
    expect(beat?.head.status, "the heartbeat was answered, not made a deadlock victim").toBe(200);
    expect(await task(canceled)).toMatchObject({ state: "fulfilled" });
    expect(await task(waiting)).toMatchObject({ state: "acquired", resumes: [canceled] });
  });
});
