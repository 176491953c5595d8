// Focused tests of the resonate schema's contract with PostgresNetwork and of the properties the
// differential test cannot see: types as node-pg reads them, NOTIFY, destructive SKIP LOCKED
// dequeue, the debug_time gate, concurrency (create races, suspend-vs-settle), privileges and gc.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropDatabase, freshDatabase } from "../support/db.ts";

// biome-ignore lint/suspicious/noExplicitAny: protocol records are untyped JSON.
type Json = any;

const TARGET = "poll://any@schema-test";
let url: string;
let pool: pg.Pool;
let seq = 0;

const uid = (prefix: string) => `${prefix}-${process.pid}-${++seq}`;

async function rpc(kind: string, data: Json, q: pg.Pool | pg.PoolClient | pg.Client = pool): Promise<Json> {
  const req = { kind, head: { corrId: `c${++seq}`, version: "2026-04-01" }, data };
  const { rows } = await q.query("select resonate.resonate_rpc($1::jsonb) as res", [JSON.stringify(req)]);
  return rows[0].res;
}

function hasNull(x: Json): boolean {
  if (x === null) return true;
  if (Array.isArray(x)) return x.some(hasNull);
  if (typeof x === "object") return Object.values(x).some(hasNull);
  return false;
}

async function createTask(id: string, timeoutAt = Date.now() + 600_000): Promise<Json> {
  const res = await rpc("task.create", {
    pid: "p1",
    ttl: 60_000,
    action: {
      kind: "promise.create",
      head: { corrId: "x", version: "2026-04-01" },
      data: { id, timeoutAt, param: {}, tags: { "resonate:target": TARGET, "resonate:scope": "global" } },
    },
  });
  expect(res.head.status).toBe(200);
  return res.data.task;
}

beforeAll(async () => {
  url = await freshDatabase("resonate_schema");
  pool = new pg.Pool({ connectionString: url, max: 24 });
  // Dropping the database at the end terminates clients that are still closing.
  pool.on("error", () => {});
  // The debug requests and a pinned clock are for test harnesses: members of resonate_debugger.
  await pool.query("grant resonate_debugger to current_user");
});

afterAll(async () => {
  await pool?.end();
  await dropDatabase("resonate_schema");
});

describe("entry points as node-pg sees them", () => {
  it("resonate_rpc returns one jsonb row; dequeue_execute gives a text id and an int4 version", async () => {
    const id = uid("types");
    const res = await rpc("promise.create", {
      id,
      timeoutAt: Date.now() + 60_000,
      param: { data: "eA==" },
      tags: { "resonate:target": TARGET },
    });
    expect(typeof res).toBe("object");
    expect(res).toMatchObject({ kind: "promise.create", head: { status: 200, version: "2026-04-01" } });
    expect(res.data.promise).toMatchObject({ id, state: "pending", param: { data: "eA==" } });

    const { rows } = await pool.query("select task_id, version from resonate.dequeue_execute($1, $2)", [
      TARGET,
      100,
    ]);
    const row = rows.find((r) => r.task_id === id);
    expect(row).toEqual({ task_id: id, version: 0 });
    expect(typeof row.version).toBe("number");

    const unblock = await pool.query("select promise from resonate.dequeue_unblock($1, $2)", [TARGET, 100]);
    expect(unblock.fields.map((f) => f.name)).toEqual(["promise"]);
  });

  it("has exactly the overloads the SDK calls", async () => {
    const { rows } = await pool.query(`
      select p.proname, pg_get_function_identity_arguments(p.oid) as args, pg_get_function_result(p.oid) as result
        from pg_proc p where p.pronamespace = 'resonate'::regnamespace and p.proname not like '\\_%'
       order by 1, 2`);
    const sig = rows.map((r) => `${r.proname}(${r.args}) -> ${r.result}`);
    expect(sig).toEqual(
      expect.arrayContaining([
        'dequeue_execute(address text, "limit" integer) -> TABLE(task_id text, version integer)',
        'dequeue_unblock(address text, "limit" integer) -> TABLE(promise jsonb)',
        "outbox_channel(address text) -> text",
        "process_timeouts() -> integer",
        "process_timeouts(now bigint) -> integer",
        "resonate_rpc(req jsonb) -> jsonb",
      ]),
    );
    expect(rows.filter((r) => r.proname === "dequeue_execute")).toHaveLength(1);
    expect(rows.filter((r) => r.proname === "dequeue_unblock")).toHaveLength(1);
    // Untyped parameters, exactly as PostgresNetwork sends them.
    await pool.query("select task_id, version from resonate.dequeue_execute($1, $2)", ["nobody", 1]);
    await pool.query("select resonate.process_timeouts()");
  });

  it("outbox_channel is a short, quote-free hash of the address", async () => {
    const address = `poll://uni@${"g".repeat(80)}/${"f".repeat(32)}`;
    const { rows } = await pool.query("select resonate.outbox_channel($1) as channel", [address]);
    expect(rows[0].channel).toMatch(/^resonate_q_[0-9a-f]{32}$/);
    expect(Buffer.byteLength(rows[0].channel)).toBeLessThanOrEqual(63);
  });

  it("never lets an exception escape and never emits nulls", async () => {
    const bad = await rpc("promise.create", { id: 42 });
    expect(bad.head.status).toBe(400);
    expect(typeof bad.data).toBe("string");
    const garbage = (await pool.query("select resonate.resonate_rpc('[1,2]'::jsonb) as res")).rows[0].res;
    expect(garbage.head.status).toBe(400);
    const unknown = await rpc("promise.frobnicate", {});
    expect(unknown.head.status).toBe(501);
    const search = await rpc("promise.search", {});
    expect(search.head.status).toBe(501);

    const id = uid("nulls");
    const responses = [
      await rpc("promise.create", {
        id,
        timeoutAt: Date.now() + 60_000,
        param: { headers: null, data: null },
        tags: { "resonate:target": TARGET, x: null },
      }),
      await rpc("promise.get", { id }),
      await rpc("task.get", { id }),
      await rpc("promise.settle", { id, state: "resolved", value: { data: null } }),
      await rpc("task.get", { id }),
      bad,
      garbage,
    ];
    for (const r of responses) expect(hasNull(r), JSON.stringify(r)).toBe(false);
    expect(responses[0].data.promise.settledAt).toBeUndefined();
    expect(responses[2].data.task.pid).toBeUndefined();
  });
});

describe("outbox delivery", () => {
  it("NOTIFYs the hashed channel of the row's address when the row is written", async () => {
    const address = `poll://any@notify-${process.pid}`;
    const listener = new pg.Client({ connectionString: url });
    await listener.connect();
    try {
      const { rows } = await pool.query("select resonate.outbox_channel($1) as channel", [address]);
      await listener.query(`LISTEN "${rows[0].channel}"`);
      const got = new Promise<string>((resolve) => listener.on("notification", (n) => resolve(n.channel)));
      await rpc("promise.create", {
        id: uid("notify"),
        timeoutAt: Date.now() + 60_000,
        tags: { "resonate:target": address },
      });
      const channel = await Promise.race([
        got,
        new Promise<string>((r) => setTimeout(() => r("timeout"), 3000)),
      ]);
      expect(channel).toBe(rows[0].channel);
    } finally {
      await listener.end();
    }
  });

  it("dequeues destructively in seq order, and concurrent dequeuers split the rows (SKIP LOCKED)", async () => {
    const address = `poll://any@split-${process.pid}`;
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      const id = uid("split");
      ids.push(id);
      await rpc("promise.create", {
        id,
        timeoutAt: Date.now() + 600_000,
        tags: { "resonate:target": address },
      });
    }
    const a = await pool.connect();
    const b = await pool.connect();
    try {
      await a.query("begin");
      const first = (await a.query("select task_id from resonate.dequeue_execute($1, $2)", [address, 20]))
        .rows;
      // `a` still holds its 20 rows locked: `b` must skip them instead of waiting.
      const second = (await b.query("select task_id from resonate.dequeue_execute($1, $2)", [address, 100]))
        .rows;
      await a.query("commit");
      expect(first.map((r) => r.task_id)).toEqual(ids.slice(0, 20));
      expect(second.map((r) => r.task_id)).toEqual(ids.slice(20));
      const again = await pool.query("select * from resonate.dequeue_execute($1, $2)", [address, 100]);
      expect(again.rows).toEqual([]);
    } finally {
      a.release();
      b.release();
    }
  });
});

describe("time", () => {
  it("ignores resonate:debug_time unless the session ran `set resonate.debug_time = on`", async () => {
    const id = uid("clock");
    const before = Date.now();
    const req = {
      kind: "promise.create",
      head: { corrId: "t", version: "v", "resonate:debug_time": 1000 },
      data: { id, timeoutAt: before + 60_000 },
    };
    const plain = (await pool.query("select resonate.resonate_rpc($1::jsonb) as res", [JSON.stringify(req)]))
      .rows[0].res;
    expect(plain.data.promise.createdAt).toBeGreaterThanOrEqual(before - 1000);
    expect((await rpc("debug.snap", {})).head.status).toBe(501);
    expect((await rpc("debug.reset", {})).head.status).toBe(501);

    const debug = await pool.connect();
    try {
      await debug.query("set resonate.debug_time = on");
      const res = (
        await debug.query("select resonate.resonate_rpc($1::jsonb) as res", [
          JSON.stringify({ ...req, data: { id: uid("clock"), timeoutAt: 5000 } }),
        ])
      ).rows[0].res;
      expect(res.data.promise).toMatchObject({ createdAt: 1000, state: "pending" });
    } finally {
      await debug.query("reset resonate.debug_time");
      debug.release();
    }
  });
});

describe("concurrency", () => {
  it("20 concurrent creates of one id all get 200 and the same record", async () => {
    const id = uid("race-create");
    const timeoutAt = Date.now() + 60_000;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        rpc("promise.create", {
          id,
          timeoutAt: timeoutAt + i,
          param: { data: btoa(String(i)) },
          tags: { "resonate:target": TARGET },
        }),
      ),
    );
    expect(results.map((r) => r.head.status)).toEqual(Array(20).fill(200));
    const records = new Set(results.map((r) => JSON.stringify(r.data.promise)));
    expect(records.size).toBe(1);
    const tasks = await pool.query("select count(*)::int as n from resonate.tasks where id = $1", [id]);
    expect(tasks.rows[0].n).toBe(1);
  });

  it("concurrent task.create of one id: one acquires, the rest see 409", async () => {
    const id = uid("race-task");
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        rpc("task.create", {
          pid: "p",
          ttl: 60_000,
          action: {
            kind: "promise.create",
            head: {},
            data: { id, timeoutAt: Date.now() + 60_000, tags: { "resonate:target": TARGET } },
          },
        }),
      ),
    );
    const statuses = results.map((r) => r.head.status).sort();
    expect(statuses).toEqual([200, ...Array(11).fill(409)]);
  });

  it("a suspend racing a settle never loses the wake-up", async () => {
    const outcomes = { suspendedFirst: 0, settledFirst: 0 };
    for (let i = 0; i < 150; i++) {
      const root = uid("wake");
      const awaited = `${root}:1`;
      const task = await createTask(root);
      await rpc("promise.create", {
        id: awaited,
        timeoutAt: Date.now() + 600_000,
        tags: { "resonate:scope": "global" },
      });
      const [suspend, settle] = await Promise.all([
        rpc("task.suspend", {
          id: root,
          version: task.version,
          actions: [{ kind: "promise.register_callback", head: {}, data: { awaited, awaiter: root } }],
        }),
        rpc("promise.settle", { id: awaited, state: "resolved", value: {} }),
      ]);
      expect(settle.head.status).toBe(200);
      const t = (await rpc("task.get", { id: root })).data.task;
      if (suspend.head.status === 300) {
        outcomes.settledFirst++;
        // The settle came first: the task keeps running, nothing registered.
        expect(t.state).toBe("acquired");
      } else {
        expect(suspend.head.status).toBe(200);
        outcomes.suspendedFirst++;
        // The settle came second and must have resumed the task and sent an execute.
        expect(t).toMatchObject({ state: "pending", resumes: [awaited] });
        const out = await pool.query(
          "select version from resonate.outbox where kind = 'execute' and task_id = $1 and address = $2",
          [root, TARGET],
        );
        expect(out.rows).toEqual([{ version: task.version }]);
      }
      const cb = await pool.query("select count(*)::int as n from resonate.callbacks where awaited = $1", [
        awaited,
      ]);
      expect(cb.rows[0].n).toBe(0);
    }
    console.info("suspend vs settle outcomes", outcomes);
    expect(outcomes.suspendedFirst + outcomes.settledFirst).toBe(150);
  });
});

describe("ctx.promise() (scope global, no target)", () => {
  it("is awaitable through task.suspend and register_listener, and its timeout is armed", async () => {
    const root = uid("hitl");
    const human = `${root}:1`;
    const task = await createTask(root);
    const now = Date.now();
    await rpc("promise.create", {
      id: human,
      timeoutAt: now + 1000,
      param: {},
      tags: { "resonate:scope": "global", "resonate:origin": root, "resonate:parent": root },
    });
    const suspend = await rpc("task.suspend", {
      id: root,
      version: task.version,
      actions: [{ kind: "promise.register_callback", head: {}, data: { awaited: human, awaiter: root } }],
    });
    expect(suspend.head.status).toBe(200);
    const listen = await rpc("promise.register_listener", {
      awaited: human,
      address: "poll://uni@default/p1",
    });
    expect(listen.head.status).toBe(200);

    // Nobody resolves it: the timer loop alone must time it out and wake the awaiter.
    await pool.query("select resonate.process_timeouts($1::bigint)", [now + 1001]);
    const p = await pool.query("select state, settled_at from resonate.promises where id = $1", [human]);
    expect(p.rows[0]).toEqual({ state: "rejected_timedout", settled_at: String(now + 1000) });
    const t = (await rpc("task.get", { id: root })).data.task;
    expect(t).toMatchObject({ state: "pending", version: task.version, resumes: [human] });
    const ex = await pool.query("select task_id, version from resonate.dequeue_execute($1, 1000)", [TARGET]);
    expect(ex.rows).toContainEqual({ task_id: root, version: task.version });
    const ub = await pool.query("select promise from resonate.dequeue_unblock($1, 100)", [
      "poll://uni@default/p1",
    ]);
    expect(ub.rows.map((r) => r.promise)).toContainEqual(
      expect.objectContaining({ id: human, state: "rejected_timedout", settledAt: now + 1000 }),
    );
  });
});

describe("privileges", () => {
  it("service_role can drive the store; anon and authenticated cannot touch schema resonate", async () => {
    const c = await pool.connect();
    try {
      await c.query("set role service_role");
      await c.query("select resonate.process_timeouts()");
      await c.query("select * from resonate.dequeue_execute($1, $2)", ["nobody", 1]);
      await c.query("select resonate.outbox_channel($1)", ["x"]);
      const res = await rpc("promise.get", { id: "missing" }, c);
      expect(res.head.status).toBe(404);
      await c.query("reset role");
      for (const role of ["anon", "authenticated"]) {
        await c.query(`set role ${role}`);
        await expect(c.query("select resonate.process_timeouts()")).rejects.toThrow(/permission denied/);
        await expect(c.query("select * from resonate.promises")).rejects.toThrow(/permission denied/);
        await expect(c.query("select resonate.resonate_rpc('{}'::jsonb)")).rejects.toThrow(
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

describe("gc", () => {
  it("removes whole settled trees older than the horizon, and nothing else", async () => {
    const day = 86_400_000;
    const old = Date.now() - 10 * day;
    const c = await pool.connect();
    try {
      await c.query("set resonate.debug_time = on");
      const at = async (t: number, kind: string, data: Json) => {
        const req = { kind, head: { corrId: "gc", version: "v", "resonate:debug_time": t }, data };
        const res = (await c.query("select resonate.resonate_rpc($1::jsonb) as res", [JSON.stringify(req)]))
          .rows[0].res;
        expect(res.head.status).toBe(200);
      };
      const tag = uid("gc");
      const make = async (id: string, settleAt?: number) => {
        await at(old - 1000, "promise.create", {
          id,
          timeoutAt: Date.now() + day,
          tags: { "resonate:target": TARGET },
        });
        if (settleAt !== undefined)
          await at(settleAt, "promise.settle", { id, state: "resolved", value: {} });
      };
      await make(`${tag}a`, old);
      await make(`${tag}a:1`, old);
      await make(`${tag}a:1.1`, old);
      await make(`${tag}b`, old); // settled long ago, but a child is still pending
      await make(`${tag}b:1`);
      await make(`${tag}c`, Date.now() - 1000); // settled recently
      await make(`${tag}a0`); // shares the prefix "…a" but is another tree, still pending
      await make(`${tag}d`, old); // settled long ago, child settled recently
      await make(`${tag}d:1`, Date.now() - 1000);
      await c.query(
        "insert into resonate.outbox (kind, address, promise_id, promise, created_at) values ('unblock', 'poll://uni@dead/pid', $1, '{}', now() - interval '8 days')",
        [`${tag}zzz`],
      );
      await c.query(`delete from resonate.outbox where task_id like $1`, [`${tag}%`]);

      const { rows } = await c.query("select resonate.gc(interval '7 days') as n");
      expect(rows[0].n).toBeGreaterThanOrEqual(3);
      const left = await c.query("select id from resonate.promises where id like $1 order by id", [
        `${tag}%`,
      ]);
      expect(left.rows.map((r) => r.id)).toEqual([
        `${tag}a0`,
        `${tag}b`,
        `${tag}b:1`,
        `${tag}c`,
        `${tag}d`,
        `${tag}d:1`,
      ]);
      const tasks = await c.query("select count(*)::int as n from resonate.tasks where id like $1", [
        `${tag}a:%`,
      ]);
      expect(tasks.rows[0].n).toBe(0);
      const orphans = await c.query("select count(*)::int as n from resonate.outbox where promise_id = $1", [
        `${tag}zzz`,
      ]);
      expect(orphans.rows[0].n).toBe(0);
    } finally {
      await c.query("reset resonate.debug_time");
      c.release();
    }
  });
});

describe("cron (UTC)", () => {
  it("agrees with cron-parser, the reference's parser, on next instants", async () => {
    const { CronExpressionParser } = await import("cron-parser");
    const exprs = [
      "* * * * *",
      "*/7 * * * *",
      "0 */3 * * *",
      "15 10 * * 1-5",
      "0 0 1,15 * *",
      "0 0 13 * 5",
      "*/20 * * * * *",
      "10-40/10 5 * * * *",
      "0 12 * jan,jul sun",
      "0 0 29 2 *",
      "59 23 31 12 *",
      "0 9 * * 7",
      "@hourly",
      "@daily",
      "@weekly",
      "@monthly",
      "@yearly",
      "@weekdays",
    ];
    const next = rng(7);
    const checks: { expr: string; after: number }[] = [];
    for (const expr of exprs) {
      for (let i = 0; i < 8; i++) {
        const after = Date.UTC(2026, 0, 1) + Math.floor(next() * 3 * 365 * 86_400_000);
        checks.push({ expr, after: i === 0 ? Date.UTC(2027, 11, 31, 23, 59, 0) : after });
      }
    }
    const { rows } = await pool.query(
      `select c.expr, c.after, resonate._cron_next(c.expr, c.after) as next
         from jsonb_to_recordset($1::jsonb) as c(expr text, after bigint)`,
      [JSON.stringify(checks)],
    );
    for (const r of rows) {
      const expected = CronExpressionParser.parse(r.expr, {
        currentDate: new Date(Number(r.after)),
        tz: "UTC",
      })
        .next()
        .getTime();
      expect({ expr: r.expr, after: Number(r.after), next: Number(r.next) }).toEqual({
        expr: r.expr,
        after: Number(r.after),
        next: expected,
      });
    }
    for (const bad of ["not a cron", "61 * * * *", "* * * *", "0 0 L * *"]) {
      await expect(pool.query("select resonate._cron_next($1, 0)", [bad])).rejects.toThrow(/Invalid cron/);
    }
  });
});

function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a * 1103515245 + 12345) % 2147483648;
    return a / 2147483648;
  };
}
