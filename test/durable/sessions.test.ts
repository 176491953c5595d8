// The network's own database sessions (functions/shared/store/sessions.ts) against the real database:
// one warm session for calls one after another, a call handed to it at once, each statement prepared
// there once, no more sessions than asked for, a statement's error keeping its session, and a session
// the database ended replaced by the next call, one nothing answers given up.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sessions } from "../../functions/shared/store/sessions.ts";
import { dropDatabase, freshDatabase, withAdmin } from "../support/db.ts";
import { eventually } from "../support/http-server.ts";
import { silentServer } from "../support/tcp-proxy.ts";

const DB = "durable_sessions";
let url: string;

beforeAll(async () => {
  url = await freshDatabase(DB);
});

afterAll(async () => {
  await dropDatabase(DB);
});

function sessions(size: number) {
  const lost: string[] = [];
  const s = new Sessions({ connectionString: url, size, onLost: (err) => lost.push(err.message) });
  return { s, lost };
}

const pidOf = async (s: Sessions) =>
  ((await s.query("select pg_backend_pid() as pid")).rows[0] as { pid: number }).pid;

describe("Sessions", () => {
  it("runs calls one after another on one session, each statement prepared there once", async () => {
    const { s } = sessions(4);
    try {
      const pids = new Set<number>();
      for (let i = 0; i < 5; i++) {
        pids.add(await pidOf(s));
        await s.query("select $1::int + 1 as n", [i]);
      }
      expect(pids.size).toBe(1);
      const { rows } = await s.query("select statement from pg_prepared_statements order by statement");
      expect((rows as { statement: string }[]).map((r) => r.statement)).toEqual([
        "select $1::int + 1 as n",
        "select pg_backend_pid() as pid",
        "select statement from pg_prepared_statements order by statement",
      ]);
    } finally {
      await s.end();
    }
  });

  it("hands a call to a warm session within query(), before its caller can resume", async () => {
    const { s } = sessions(1);
    const sent: string[] = [];
    const original = pg.Client.prototype.query;
    try {
      await pidOf(s);
      pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
        sent.push((args[0] as { text: string }).text);
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof original;
      const call = s.query("select 2 as n");
      expect(sent).toEqual(["select 2 as n"]);
      expect((await call).rows).toEqual([{ n: 2 }]);
    } finally {
      pg.Client.prototype.query = original;
      await s.end();
    }
  });

  it("opens no more sessions than its size; calls beyond it wait for a free one", async () => {
    const { s } = sessions(2);
    try {
      const rows = await Promise.all(
        Array.from({ length: 6 }, () => s.query("select pg_backend_pid() as pid, pg_sleep(0.05)")),
      );
      expect(new Set(rows.map((r) => (r.rows[0] as { pid: number }).pid)).size).toBe(2);
    } finally {
      await s.end();
    }
  });

  it("keeps the session of a statement that failed", async () => {
    const { s, lost } = sessions(1);
    try {
      const before = await pidOf(s);
      await expect(s.query("select 1 / 0")).rejects.toMatchObject({ code: "22012" });
      expect(await pidOf(s)).toBe(before);
      expect(lost).toEqual([]);
    } finally {
      await s.end();
    }
  });

  it("replaces a session the database ended, on the next call, and says it was lost", async () => {
    const { s, lost } = sessions(1);
    try {
      const before = await pidOf(s);
      await withAdmin((c) => c.query("select pg_terminate_backend($1)", [before]), DB);
      await eventually("the lost session reported", async () => (lost.length > 0 ? true : undefined));
      const after = await pidOf(s);
      expect(after).not.toBe(before);
      // A session ended during a call fails that call only.
      await expect(
        Promise.all([
          s.query("select pg_sleep(5)"),
          (async () => {
            await new Promise((r) => setTimeout(r, 200));
            await withAdmin((c) => c.query("select pg_terminate_backend($1)", [after]), DB);
          })(),
        ]),
      ).rejects.toBeInstanceOf(Error);
      expect(await pidOf(s)).not.toBe(after);
    } finally {
      await s.end();
    }
  });

  it("refuses calls once ended, and leaves no session behind", async () => {
    const { s } = sessions(2);
    const pid = await pidOf(s);
    await s.end();
    await expect(s.query("select 1")).rejects.toThrow("closed");
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await eventually("the session gone", async () => {
        const { rows } = await c.query("select 1 from pg_stat_activity where pid = $1", [pid]);
        return rows.length === 0 ? true : undefined;
      });
    } finally {
      await c.end();
    }
  });

  it("fails a call whose session is never answered, and frees its place for the next", async () => {
    const silent = await silentServer(url);
    const s = new Sessions({
      connectionString: silent.url,
      size: 1,
      connectTimeoutMs: 300,
      onLost: () => {},
    });
    try {
      await expect(s.query("select 1")).rejects.toThrow("timeout");
      await expect(s.query("select 1")).rejects.toThrow("timeout");
    } finally {
      await s.end();
      await silent.close();
    }
  });
});
