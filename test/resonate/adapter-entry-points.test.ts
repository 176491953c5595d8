// The entry points our Network adapter calls (supabase/migrations/20261121000190_resonate_worker_entry_points.sql),
// at the SQL level: a batch answers each request as resonate_rpc would and one failure does not undo
// the others; a local step's two requests sent together, as they are or in the adapter's compact
// form, are written once and answered exactly as if sent one after the other; a registered worker's tasks go back to its group the moment its
// session ends, and not while it lives; an execute taken by a worker that dies before acquiring is
// offered again soon.
import type { Request } from "@resonatehq/sdk";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Batches } from "../../functions/shared/store/batches.ts";
import { dropDatabase, freshDatabase } from "../support/db.ts";

// biome-ignore lint/suspicious/noExplicitAny: protocol records are untyped JSON.
type Json = any;

const DB = "resonate_adapter_entry_points";
const HOUR = 3_600_000;
let url: string;
let pool: pg.Pool;
let seq = 0;
const uid = (prefix: string) => `${prefix}-${++seq}`;
const head = () => ({ corrId: `c${++seq}`, version: "2026-04-01" });

const req = (kind: string, data: Json) => ({ kind, head: head(), data });

async function rpc(kind: string, data: Json, q: pg.Pool | pg.Client = pool): Promise<Json> {
  const { rows } = await q.query("select resonate.resonate_rpc($1::jsonb) as res", [
    JSON.stringify(req(kind, data)),
  ]);
  return rows[0].res;
}

async function batch(units: Json[][], q: pg.Pool | pg.PoolClient | pg.Client = pool): Promise<Json> {
  const { rows } = await q.query("select resonate.resonate_batch($1::jsonb) as res", [JSON.stringify(units)]);
  return rows[0].res;
}

/** A root task acquired at version 1 by `pid`, as the SDK's run() creates it. */
async function rootTask(id: string, opts: { pid?: string; group?: string; timeoutAt?: number } = {}) {
  const res = await rpc("task.create", {
    pid: opts.pid ?? "p",
    ttl: HOUR,
    action: req("promise.create", {
      id,
      timeoutAt: opts.timeoutAt ?? Date.now() + HOUR,
      param: {},
      tags: {
        "resonate:target": `poll://any@${opts.group ?? "g"}`,
        "resonate:scope": "global",
        "resonate:branch": id,
      },
    }),
  });
  expect(res.head.status).toBe(200);
}

const stepCreate = (
  task: string,
  child: string,
  version = 1,
  tags: Json = {},
  timeoutAt = Date.now() + HOUR,
) =>
  req("task.fence", {
    id: task,
    version,
    action: req("promise.create", {
      id: child,
      timeoutAt,
      param: { headers: {}, data: "e30=" },
      tags: { "resonate:scope": "local", "resonate:branch": task, "resonate:parent": task, ...tags },
    }),
  });

const stepSettle = (task: string, child: string, version = 1, state = "resolved") =>
  req("task.fence", {
    id: task,
    version,
    action: req("promise.settle", { id: child, state, value: { headers: {}, data: "MQ==" } }),
  });

async function row(id: string): Promise<Json> {
  const { rows } = await pool.query(
    "select state, param, value, tags, timeout_at::float8 as timeout, created_at <= coalesce(settled_at, created_at) as ordered from resonate.promises where id = $1",
    [id],
  );
  return rows[0];
}

/** Makes every insert of a promise whose id starts with "doomed-" fail, until the trigger is dropped. */
async function refuseDoomed(): Promise<void> {
  await pool.query(`
    create or replace function public.refuse_doomed() returns trigger language plpgsql as $$
    begin
      if new.id like 'doomed-%' then raise exception 'refused by test trigger'; end if;
      return new;
    end $$;
    create trigger refuse_doomed before insert on resonate.promises for each row execute function public.refuse_doomed()`);
}

beforeAll(async () => {
  url = await freshDatabase(DB);
  pool = new pg.Pool({ connectionString: url, max: 8 });
  pool.on("error", () => {});
});

afterAll(async () => {
  await pool?.end();
  await dropDatabase(DB);
});

describe("resonate_batch", () => {
  it("answers every request of every unit as resonate_rpc would, in order", async () => {
    const a = uid("batch-a");
    const [[created, got], [missing, bad, debug]] = await batch([
      [
        req("promise.create", { id: a, timeoutAt: Date.now() + HOUR, param: {}, tags: {} }),
        req("promise.get", { id: a }),
      ],
      [req("promise.get", { id: uid("nobody") }), { kind: 42 }, req("debug.reset", {})],
    ]);
    expect(created).toMatchObject({
      kind: "promise.create",
      head: { status: 200 },
      data: { promise: { id: a, state: "pending" } },
    });
    expect(got).toMatchObject({ kind: "promise.get", head: { status: 200 }, data: { promise: { id: a } } });
    expect(missing.head.status).toBe(404);
    expect(bad.head.status).toBe(400);
    // The debug gate holds inside a batch too: refused (403 for a role outside resonate_debugger, 501
    // for a member whose session did not opt in), whichever resonate_rpc answers this session.
    expect([403, 501]).toContain(debug.head.status);
    expect(debug.head.status).toBe((await rpc("debug.reset", {})).head.status);
    expect(await row(a)).toMatchObject({ state: "pending" });
    expect(JSON.stringify([created, got, missing, bad, debug])).not.toContain("null");
  });

  it("a request that fails does not undo the others", async () => {
    const ok = uid("kept");
    const doomed = uid("doomed");
    await refuseDoomed();
    try {
      const [[first], [second], [third]] = await batch([
        [req("promise.create", { id: ok, timeoutAt: Date.now() + HOUR, param: {}, tags: {} })],
        [req("promise.create", { id: doomed, timeoutAt: Date.now() + HOUR, param: {}, tags: {} })],
        [req("promise.get", { id: ok })],
      ]);
      expect(first.head.status).toBe(200);
      expect(second).toMatchObject({
        head: { status: 500 },
        data: expect.stringContaining("refused by test trigger"),
      });
      expect(third.head.status).toBe(200);
      expect(await row(ok)).toMatchObject({ state: "pending" });
      expect(await row(doomed)).toBeUndefined();
    } finally {
      await pool.query("drop trigger refuse_doomed on resonate.promises");
    }
  });

  it("a step whose fast path fails the adapter's shared call fails alone: the other units go again", async () => {
    const [kept, doomed] = [uid("kept-step"), uid("doomed-step")];
    for (const t of [kept, doomed]) await rootTask(t);
    // A step's fast path has no subtransaction of its own, so its error fails the whole statement.
    await refuseDoomed();
    try {
      const calls: string[] = [];
      const query = (sql: string, params: unknown[]) => {
        calls.push(sql);
        return pool.query(sql, params);
      };
      const batches = new Batches({ query }, 1);
      // Occupies the one call in flight, so the two steps leave together in the next.
      const first = batches.send([req("promise.get", { id: kept }) as Request]);
      const pair = (t: string) => [stepCreate(t, `${t}:0`), stepSettle(t, `${t}:0`)] as Request[];
      const [keptAnswers, doomedAnswers] = [batches.send(pair(kept)), batches.send(pair(doomed))];
      await first;
      await expect(doomedAnswers).rejects.toThrow("refused by test trigger");
      expect((await keptAnswers).map((r) => r.head.status)).toEqual([200, 200]);
      expect(await row(`${kept}:0`)).toMatchObject({ state: "resolved" });
      expect(await row(`${doomed}:0`)).toBeUndefined();
      expect(calls.map((sql) => /resonate\.(\w+)/.exec(sql)![1])).toEqual([
        "resonate_rpc",
        "resonate_batch",
        "resonate_step",
        "resonate_step",
      ]);
    } finally {
      await pool.query("drop trigger refuse_doomed on resonate.promises");
    }
  });

  it("stops a unit at a lock conflict, uncommitted, and commits the other units", async () => {
    const held = uid("held");
    const after = uid("after");
    const other = uid("other");
    await rpc("promise.create", { id: held, timeoutAt: Date.now() + HOUR, param: {}, tags: {} });
    const locker = await pool.connect();
    const c = await pool.connect();
    try {
      await locker.query("begin");
      await locker.query("select 1 from resonate.promises where id = $1 for update", [held]);
      await c.query("set lock_timeout = '200ms'");
      const [[settled, created], [alone]] = await batch(
        [
          [
            req("promise.settle", { id: held, state: "resolved", value: {} }),
            req("promise.create", { id: after, timeoutAt: Date.now() + HOUR, param: {}, tags: {} }),
          ],
          [req("promise.create", { id: other, timeoutAt: Date.now() + HOUR, param: {}, tags: {} })],
        ],
        c,
      );
      expect([settled, created]).toEqual([null, null]);
      expect(alone.head.status).toBe(200);
      await locker.query("rollback");
      expect(await row(held)).toMatchObject({ state: "pending" });
      expect(await row(after)).toBeUndefined();
      expect(await row(other)).toMatchObject({ state: "pending" });
    } finally {
      await c.query("reset lock_timeout");
      c.release();
      locker.release();
    }
  });

  it("fails as a whole, committing nothing, when a local step's pair meets a lock conflict", async () => {
    const task = uid("pair-conflict");
    await rootTask(task);
    const other = uid("other");
    const locker = await pool.connect();
    const c = await pool.connect();
    try {
      await locker.query("begin");
      await locker.query("select 1 from resonate.tasks where id = $1 for update", [task]);
      await c.query("set lock_timeout = '200ms'");
      await expect(
        batch(
          [
            [req("promise.create", { id: other, timeoutAt: Date.now() + HOUR, param: {}, tags: {} })],
            [stepCreate(task, `${task}:0`), stepSettle(task, `${task}:0`)],
          ],
          c,
        ),
      ).rejects.toMatchObject({ code: "55P03" });
      await locker.query("rollback");
      expect(await row(other)).toBeUndefined();
      expect(await row(`${task}:0`)).toBeUndefined();
    } finally {
      await c.query("reset lock_timeout");
      c.release();
      locker.release();
    }
  });

  it("waits for the WAL flush unless every request only starts a local step", async () => {
    const task = uid("sync");
    await rootTask(task);
    const c = await pool.connect();
    const setting = async (units: Json[][]) => {
      await c.query("begin");
      await batch(units, c);
      const { rows } = await c.query("select current_setting('synchronous_commit') as s");
      await c.query("commit");
      return rows[0].s;
    };
    try {
      expect(await setting([[stepCreate(task, `${task}:0`)], [stepCreate(task, `${task}:1`)]])).toBe("off");
      expect(await setting([[stepCreate(task, `${task}:2`)], [stepSettle(task, `${task}:0`)]])).toBe("on");
      expect(await setting([[stepCreate(task, `${task}:3`), stepSettle(task, `${task}:3`)]])).toBe("on");
    } finally {
      c.release();
    }
  });
});

describe("a local step's create and settle sent together", () => {
  /** One variant's store state, set up twice: under A for the pair in one batch, under B for the
   *  two requests sent one after the other through resonate_rpc. */
  interface Variant {
    name: string;
    setup(task: string, child: string): Promise<void>;
    create?(task: string, child: string): Json;
    settle?(task: string, child: string): Json;
    /** Whether the pair is one write (the fast path); otherwise it runs request by request. */
    fused: boolean;
  }

  const variants: Variant[] = [
    { name: "a new step under a held task", setup: (t) => rootTask(t), fused: true },
    {
      name: "a stale version",
      setup: (t) => rootTask(t),
      create: (t, c) => stepCreate(t, c, 7),
      settle: (t, c) => stepSettle(t, c, 7),
      fused: false,
    },
    {
      name: "a canceled workflow",
      setup: async (t) => {
        await rootTask(t);
        await rpc("promise.settle", { id: t, state: "rejected_canceled", value: {} });
      },
      fused: false,
    },
    {
      name: "a workflow past its deadline, not yet converged",
      setup: async (t) => {
        await rootTask(t, { timeoutAt: Date.now() + 150 });
        await new Promise((r) => setTimeout(r, 250));
      },
      fused: false,
    },
    {
      name: "a step that exists, settled",
      setup: async (t, c) => {
        await rootTask(t);
        await rpc("task.fence", stepCreate(t, c).data);
        await rpc("task.fence", stepSettle(t, c, 1, "rejected").data);
      },
      fused: false,
    },
    {
      name: "a step that exists, pending",
      setup: async (t, c) => {
        await rootTask(t);
        await rpc("task.fence", stepCreate(t, c).data);
      },
      fused: false,
    },
    {
      name: "a step whose deadline has passed",
      setup: (t) => rootTask(t),
      create: (t, c) => stepCreate(t, c, 1, {}, Date.now() - 1_000),
      fused: false,
    },
    {
      name: "a child with a target (an rpc)",
      setup: (t) => rootTask(t),
      create: (t, c) => stepCreate(t, c, 1, { "resonate:target": "poll://any@g" }),
      fused: false,
    },
    {
      name: "a state only the timer may write",
      setup: (t) => rootTask(t),
      settle: (t, c) => stepSettle(t, c, 1, "rejected_timedout"),
      fused: false,
    },
    {
      name: "a released task",
      setup: async (t) => {
        await rootTask(t);
        await rpc("task.release", { id: t, version: 1 });
      },
      fused: false,
    },
  ];

  /** The first call carried the steps in compact form, and only a step the store declined that way
   *  went again, as the SDK wrote it, in a second call. */
  const expectCompact = (calls: string[], fused: boolean) => {
    expect(calls.length).toBe(fused ? 1 : 2);
    // A lone pair goes as resonate_step's typed arguments, a run as one steps.fused element.
    expect(calls[0]).toMatch(/^select resonate\.resonate_step\(|"kind":"steps\.fused"/);
    expect(calls[0]).not.toContain('"kind":"promise.settle"');
    if (!fused) expect(calls[1]).not.toMatch(/steps\.fused|resonate_step/);
  };

  /** A request's or answer's correlation id, and its fenced action's where the answer has one (a
   *  refused fence answers without its action). */
  const corrIds = (x: Json, answer: Json = x) => [
    x.head.corrId,
    answer.data?.action ? x.data.action.head.corrId : undefined,
  ];

  /** Answers and rows with the variant's ids, times and correlation ids taken out. */
  const normal = (x: Json, task: string) =>
    x === undefined
      ? undefined
      : JSON.parse(
          JSON.stringify(x, (k, v) =>
            ["createdAt", "settledAt", "corrId", "timeoutAt", "timeout"].includes(k) ? undefined : v,
          ).replaceAll(task, "TASK"),
        );

  /** Sends the requests built for task a in one batch, in a transaction of their own (counting its
   *  writes), and those built for task b one by one through resonate_rpc. `compact`: task a's go
   *  through the adapter's Batches, which sends local steps' pairs in compact form (step-pairs.ts)
   *  and the rest again in full where the store declines one. */
  async function togetherAndApart(requests: (t: string) => Json[], a: string, b: string, compact = false) {
    // A connection of its own: pg_stat_xact_* also counts a backend's earlier, unreported transactions.
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    let together: Json[] = [];
    let writes: Json;
    /** What each call of the adapter's Batches carried. */
    const calls: string[] = [];
    try {
      await c.query("begin");
      const sent = requests(a);
      if (compact) {
        const query = (sql: string, params: unknown[]) => {
          calls.push(`${sql} ${params.join(" ")}`);
          return c.query(sql, params);
        };
        together = await new Batches({ query }, 1).send(sent as Request[]);
      } else {
        together = (await batch([sent], c))[0];
      }
      // normal() leaves correlation ids out; each answer still carries its own request's.
      expect(together.map((x) => corrIds(x))).toEqual(sent.map((r, i) => corrIds(r, together[i])));
      writes = (
        await c.query(
          "select n_tup_ins::int as ins, n_tup_upd::int as upd from pg_stat_xact_user_tables where relid = 'resonate.promises'::regclass",
        )
      ).rows[0];
      await c.query("commit");
    } finally {
      await c.end();
    }
    const apart: Json[] = [];
    for (const r of requests(b))
      apart.push(
        (await pool.query("select resonate.resonate_rpc($1::jsonb) as res", [JSON.stringify(r)])).rows[0].res,
      );
    return { together, apart, writes, calls };
  }

  for (const [v, compact] of variants.flatMap((v) => [[v, false] as const, [v, true] as const])) {
    it(`answers as two requests would${compact ? ", in compact form" : ""}: ${v.name}`, async () => {
      const [a, b] = [uid("fuse-a"), uid("fuse-b")];
      for (const t of [a, b]) await v.setup(t, `${t}:0`);
      const pair = (t: string) => [
        (v.create ?? stepCreate)(t, `${t}:0`),
        (v.settle ?? stepSettle)(t, `${t}:0`),
      ];
      const { together, apart, writes, calls } = await togetherAndApart(pair, a, b, compact);

      expect(normal(together, a)).toEqual(normal(apart, b));
      if (compact) expectCompact(calls, v.fused);
      expect(normal(await row(`${a}:0`), a)).toEqual(normal(await row(`${b}:0`), b));
      if (v.fused) expect(writes, "one insert, no update").toEqual({ ins: 1, upd: 0 });
    });
  }

  // A fan-in (functions/shared/store/steps.ts): three steps' pairs in one unit, the variant's case in the
  // middle one, so the pairs around it still take the fast path.
  for (const [v, compact] of variants.flatMap((v) => [[v, false] as const, [v, true] as const])) {
    it(`answers a run of pairs as six requests would${compact ? ", in compact form" : ""}: ${v.name}`, async () => {
      const [a, b] = [uid("run-a"), uid("run-b")];
      for (const t of [a, b]) await v.setup(t, `${t}:1`);
      const run = (t: string) => [
        stepCreate(t, `${t}:0`),
        stepSettle(t, `${t}:0`),
        (v.create ?? stepCreate)(t, `${t}:1`),
        (v.settle ?? stepSettle)(t, `${t}:1`),
        stepCreate(t, `${t}:2`),
        stepSettle(t, `${t}:2`, 1, "rejected"),
      ];
      const { together, apart, writes, calls } = await togetherAndApart(run, a, b, compact);

      expect(normal(together, a)).toEqual(normal(apart, b));
      if (compact) expectCompact(calls, v.fused);
      for (const k of [0, 1, 2])
        expect(normal(await row(`${a}:${k}`), a)).toEqual(normal(await row(`${b}:${k}`), b));
      if (v.fused) expect(writes, "three inserts, no update").toEqual({ ins: 3, upd: 0 });
    });
  }
});

describe("worker liveness", () => {
  async function session(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: url });
    c.on("error", () => {});
    await c.connect();
    return c;
  }
  const register = (c: pg.Client, pid: string, group: string, keep: string[] = []) =>
    c.query("select resonate.worker_register($1, $2, $3, $4) as released", [
      pid,
      `poll://any@${group}`,
      `poll://uni@${group}/${pid}`,
      keep,
    ]);
  const tick = (c: pg.Client | pg.Pool, pid: string, group: string, executes = 0, claimMs = 2_000) =>
    c.query<{ kind: string; task_id: string; version: number }>(
      "select * from resonate.worker_tick($1, $2, $3, $4, $5)",
      [pid, `poll://any@${group}`, `poll://uni@${group}/${pid}`, executes, claimMs],
    );
  const task = async (id: string) =>
    (await pool.query("select state, pid, version from resonate.tasks where id = $1", [id])).rows[0];
  const executes = async (id: string) =>
    (
      await pool.query(
        "select count(*)::int as n from resonate.outbox where kind = 'execute' and task_id = $1",
        [id],
      )
    ).rows[0].n;

  it("a group peer releases a registered worker's tasks once its session ends, and not while it lives", async () => {
    const group = uid("live");
    const [w, peer, stranger] = [uid("w"), uid("peer"), uid("stranger")];
    const ws = await session();
    const ps = await session();
    const ss = await session();
    try {
      await register(ws, w, group);
      await register(ps, peer, group);
      await register(ss, stranger, uid("elsewhere"));
      const t = uid("held-by-w");
      await rootTask(t, { pid: w, group });

      await tick(ps, peer, group);
      expect(await task(t)).toMatchObject({ state: "acquired", pid: w });

      await ws.end();
      await new Promise((r) => setTimeout(r, 100));
      await tick(ss, stranger, "elsewhere-group");
      expect(await task(t), "a worker of another group leaves it alone").toMatchObject({ state: "acquired" });
      await tick(ps, peer, group);
      expect(await task(t)).toMatchObject({ state: "pending", version: 1 });
      expect(await executes(t)).toBe(1);
      const { rows } = await pool.query("select 1 from resonate.workers where pid = $1", [w]);
      expect(rows, "a dead worker holding nothing is forgotten").toEqual([]);
      // Fencing is unchanged: the dead holder's version is refused.
      expect((await rpc("task.fence", stepCreate(t, `${t}:0`).data)).head.status).toBe(409);
    } finally {
      await Promise.all([ws, ps, ss].map((c) => c.end().catch(() => {})));
    }
  });

  it("a peer releasing a dead worker's tasks leaves one a live worker acquired meanwhile", async () => {
    const group = uid("sweep-race");
    const [dead, peer, live] = [uid("dead"), uid("peer"), uid("live")];
    const ds = await session();
    const ps = await session();
    const locker = await session();
    try {
      await register(ds, dead, group);
      await register(ps, peer, group);
      // Eleven tasks: the sweep reads which tasks the dead worker holds, then locks them as its loop
      // fetches them, ten at a time, so the last is locked only after the first has been released.
      const base = uid("swept");
      const ids = Array.from({ length: 11 }, (_, k) => `${base}/${String(k).padStart(2, "0")}`);
      for (const id of ids) await rootTask(id, { pid: dead, group });
      await ds.end();
      // Widens the window scheduling opens anyway: the first release's execute waits on this row.
      await locker.query("begin");
      await locker.query(
        "insert into resonate.outbox (kind, address, task_id, version) values ('execute', 'poll://any@elsewhere', $1, 1)",
        [ids[0]],
      );
      const peerPid = (await ps.query("select pg_backend_pid() as pid")).rows[0].pid;
      const ticking = tick(ps, peer, group);
      const waiting = "select wait_event_type = 'Lock' as w from pg_stat_activity where pid = $1";
      for (let waited = 0; !(await pool.query(waiting, [peerPid])).rows[0]?.w; waited += 10) {
        if (waited > 5_000) throw new Error("the sweep never waited");
        await new Promise((r) => setTimeout(r, 10));
      }
      // Meanwhile the last task goes back to the group (its lease, another peer) and a live worker
      // acquires it.
      const last = ids[10]!;
      const acquire = { id: last, version: 1, pid: live, ttl: HOUR };
      expect((await rpc("task.release", { id: last, version: 1 })).head.status).toBe(200);
      expect((await rpc("task.acquire", acquire)).head.status).toBe(200);
      await locker.query("rollback");
      await ticking;
      expect(await task(ids[0]!)).toMatchObject({ state: "pending", version: 1 });
      expect(await task(last), "the live worker keeps its task").toMatchObject({
        state: "acquired",
        pid: live,
        version: 2,
      });
    } finally {
      await locker.query("rollback").catch(() => {});
      await Promise.all([ds, ps, locker].map((c) => c.end().catch(() => {})));
    }
  });

  it("a worker registering under an id releases what that id holds except what it keeps", async () => {
    const group = uid("same-id");
    const w = uid("w");
    const [kept, orphan] = [uid("kept"), uid("orphan")];
    const first = await session();
    await register(first, w, group);
    await rootTask(kept, { pid: w, group });
    await rootTask(orphan, { pid: w, group });
    await first.end();
    const second = await session();
    try {
      const { rows } = await register(second, w, group, [kept]);
      expect(rows[0].released).toEqual([orphan]);
      expect(await task(kept)).toMatchObject({ state: "acquired", pid: w });
      expect(await task(orphan)).toMatchObject({ state: "pending" });
      const held = await pool.query("select id, version from resonate.held_tasks($1)", [w]);
      expect(held.rows).toEqual([{ id: kept, version: 1 }]);
    } finally {
      await second.end();
    }
  });

  it("offers an execute again soon when the worker that took it never acquires its task", async () => {
    const group = uid("claim");
    const w = uid("w");
    const t = uid("claimed");
    await rpc("promise.create", {
      id: t,
      timeoutAt: Date.now() + HOUR,
      param: {},
      tags: { "resonate:target": `poll://any@${group}`, "resonate:scope": "global" },
    });
    const taken = await tick(pool, w, group, 10, 300);
    expect(taken.rows).toEqual([{ kind: "execute", task_id: t, version: 0, promise: null }]);
    expect(await executes(t)).toBe(0);
    await new Promise((r) => setTimeout(r, 400));
    await pool.query("select resonate.process_timeouts()");
    expect(await executes(t)).toBe(1);
    expect(await task(t)).toMatchObject({ state: "pending", version: 0 });
  });

  it("is for service_role only", async () => {
    const c = await pool.connect();
    try {
      await c.query("set role service_role");
      await batch([[req("promise.get", { id: "missing" })]], c);
      await c.query("select * from resonate.held_tasks('nobody')");
      await c.query("reset role");
      for (const role of ["anon", "authenticated"]) {
        await c.query(`set role ${role}`);
        await expect(c.query("select resonate.resonate_batch('[]'::jsonb)")).rejects.toThrow(
          /permission denied/,
        );
        await expect(c.query("select * from resonate.worker_tick('x', 'a', 'u', 1, 1)")).rejects.toThrow(
          /permission denied/,
        );
        await expect(c.query("select resonate.worker_register('x', 'a', 'u', '{}')")).rejects.toThrow(
          /permission denied/,
        );
        await c.query("reset role");
      }
    } finally {
      await c.query("reset role");
      c.release();
    }
  });
});
