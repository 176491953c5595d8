// inTransaction / withTransaction on real connections of a pool of one: a rolled-back transaction leaves
// nothing and its connection serves the next one; a connection killed mid-transaction surfaces the
// body's error, is dropped from the pool on release, and the pool opens a new one.
import { randomUUID } from "node:crypto";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rollback, withTransaction } from "../../functions/shared/transaction.ts";
import { pool as makePool, withClient } from "../support/db.ts";

const table = `public.tx_helper_${randomUUID().replaceAll("-", "")}`;
let pool: pg.Pool;

beforeAll(async () => {
  await withClient((c) => c.query(`create table ${table} (id text primary key)`));
  pool = makePool(undefined, 1);
});

afterAll(async () => {
  await pool?.end();
  await withClient((c) => c.query(`drop table if exists ${table}`));
});

const rows = async (id: string) =>
  (await withClient((c) => c.query(`select id from ${table} where id = $1`, [id]))).rowCount;
const backend = (c: pg.ClientBase) =>
  c.query<{ pid: number }>("select pg_backend_pid() as pid").then((r) => r.rows[0]!.pid);

describe("withTransaction on Postgres", () => {
  it("commits, rolls back on an error or a Rollback, and hands the same connection on, outside any transaction", async () => {
    const pids: number[] = [];
    await withTransaction(pool, async (c) => {
      pids.push(await backend(c));
      await c.query(`insert into ${table} values ('kept')`);
    });
    await expect(
      withTransaction(pool, async (c) => {
        pids.push(await backend(c));
        await c.query(`insert into ${table} values ('thrown')`);
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const value = await withTransaction(pool, async (c) => {
      pids.push(await backend(c));
      await c.query(`insert into ${table} values ('asked')`);
      return new Rollback("rolled back");
    });
    expect(value).toBe("rolled back");
    expect([await rows("kept"), await rows("thrown"), await rows("asked")]).toEqual([1, 0, 0]);
    expect(new Set(pids).size).toBe(1);
    const { rows: open } = await pool.query<{ xact: string | null }>(
      "select pg_current_xact_id_if_assigned()::text as xact",
    );
    expect(open[0]!.xact).toBeNull();
  });

  it("throws the body's error when the connection dies mid-transaction, and the pool replaces the connection", async () => {
    let killed = 0;
    const err = await withTransaction(pool, async (c) => {
      killed = await backend(c);
      await c.query(`insert into ${table} values ('killed')`);
      await withClient((other) => other.query("select pg_terminate_backend($1)", [killed]));
      await c.query("select 1").catch((e: Error) => {
        throw new Error(`the body's statement failed: ${e.message}`);
      });
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^the body's statement failed: /);
    expect(await rows("killed")).toBe(0);
    const next = await withTransaction(pool, (c) => backend(c));
    expect(next).not.toBe(killed);
    expect(pool.totalCount).toBe(1);
  });
});
