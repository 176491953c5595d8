// Two retry_workflow calls for the same failed workflow at once (two operators, a double click) must
// start one retry, not two runs of the same row side by side.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropDatabase, freshDatabase } from "../support/db.ts";
import { eventually } from "../support/http-server.ts";

const DB = "operations_retry_race";
let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: await freshDatabase(DB), max: 6 });
});

afterAll(async () => {
  await pool?.end();
  await dropDatabase(DB);
});

async function blocked(pid: number): Promise<true | undefined> {
  const { rows } = await pool.query<{ n: number }>("select cardinality(pg_blocking_pids($1))::int as n", [
    pid,
  ]);
  return rows[0]!.n > 0 ? true : undefined;
}

describe("retry_workflow called twice at once", () => {
  it("starts one retry; the second call finds it running", async () => {
    const job = (
      await pool.query<{ id: string }>(
        `insert into import_jobs (source_url, status, started_at, error)
         values ('https://example.com/a.csv', 'failed', now(), 'boom') returning id`,
      )
    ).rows[0]!.id;
    const base = `import/${job}`;
    await pool.query(
      `select app.rpc_call('promise.create', jsonb_build_object('id', $1::text, 'timeoutAt', 9999999999999,
         'param', '{"data": "cGFyYW0="}'::jsonb, 'tags', '{"resonate:target": "poll://any@nobody"}'::jsonb))`,
      [base],
    );
    await pool.query(
      "update resonate.promises set state = 'rejected', settled_at = created_at where id = $1",
      [base],
    );

    const a = await pool.connect();
    const b = await pool.connect();
    const c = await pool.connect();
    try {
      const pidOf = async (cl: pg.PoolClient) =>
        (await cl.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!.pid;
      const [pidB, pidC] = [await pidOf(b), await pidOf(c)];
      // A's retry, not committed yet.
      await a.query("begin");
      expect((await a.query("select public.retry_workflow($1) as id", [base])).rows[0].id).toBe(
        `${base}/retry-1`,
      );
      // A lock request queued behind A holds B up between its statements, where an unlucky
      // scheduler would: B reads the attempts before A commits and counts them after.
      await c.query("begin");
      const cLocked = c.query("lock table public.ingest_runs in access exclusive mode");
      await eventually("C waiting for A", () => blocked(pidC));
      const second = b.query("select public.retry_workflow($1) as id", [base]).then(
        (r) => r.rows[0].id as string,
        (e: Error) => e,
      );
      await eventually("B waiting", () => blocked(pidB));
      await a.query("commit");
      await cLocked;
      await c.query("commit");
      const outcome = await second;
      const attempts = (
        await pool.query<{ id: string }>(
          "select id from resonate.promises where id like $1 || '/retry-%' order by id",
          [base],
        )
      ).rows.map((r) => r.id);
      expect(attempts).toEqual([`${base}/retry-1`]);
      expect(outcome).toBeInstanceOf(Error);
      expect(String(outcome)).toContain("is still running; cancel it first");
    } finally {
      for (const cl of [a, b, c]) {
        await cl.query("rollback").catch(() => {});
        cl.release();
      }
    }
  });
});
