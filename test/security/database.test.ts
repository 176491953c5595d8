// What the API roles (anon, authenticated) can reach in the migrated database, checked on the
// catalog rather than table by table, so a new table without RLS fails here.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DB_URL } from "../support/db.ts";

let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client({ connectionString: DB_URL });
  await client.connect();
});

afterAll(async () => {
  await client.end();
});

describe("exposed schemas", () => {
  it("every table in public has Row Level Security enabled", async () => {
    const { rows } = await client.query<{ table: string }>(
      `select c.relname as table from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relrowsecurity
          and c.relname not like '%\\_probe'`,
    );
    expect(rows.map((r) => r.table)).toEqual([]);
  });

  it("anon and authenticated read no row of any public table without a policy that allows it", async () => {
    const { rows: tables } = await client.query<{ table: string }>(
      `select c.relname as table from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind in ('r', 'p')`,
    );
    const { rows: policies } = await client.query<{ table: string; roles: string[] }>(
      `select tablename as table, roles from pg_policies where schemaname = 'public'`,
    );
    const opened = new Set(
      policies
        .filter((p) => p.roles.some((r) => r === "anon" || r === "authenticated" || r === "public"))
        .map((p) => p.table),
    );
    for (const role of ["anon", "authenticated"]) {
      for (const { table } of tables) {
        if (opened.has(table)) continue;
        await client.query("begin");
        try {
          await client.query(`set local role ${role}`);
          const res = await client
            .query(`select count(*)::int as n from public."${table}"`)
            .catch((err: Error) => err);
          if (!(res instanceof Error)) expect(res.rows[0].n, `${role} reads ${table}`).toBe(0);
        } finally {
          await client.query("rollback");
        }
      }
    }
    expect(tables.length).toBeGreaterThan(5);
  });
});

describe("private schemas", () => {
  for (const role of ["anon", "authenticated"]) {
    it(`${role} cannot use resonate, net, vault, app or cron`, async () => {
      for (const schema of ["resonate", "net", "vault", "app", "cron", "supabase_migrations"]) {
        const { rows } = await client.query<{ usage: boolean }>(
          "select has_schema_privilege($1, $2, 'usage') as usage",
          [role, schema],
        );
        expect(rows[0]!.usage, `${role} usage on ${schema}`).toBe(false);
      }
    });

    it(`${role} cannot call the store's entry points or send HTTP from SQL`, async () => {
      for (const sql of [
        `select resonate.resonate_rpc('{"kind":"debug.reset","head":{"corrId":"x","version":"2026-04-01"},"data":{}}')`,
        "select net.http_post('http://127.0.0.1:1/')",
        "select * from vault.decrypted_secrets",
      ]) {
        await client.query("begin");
        try {
          await client.query(`set local role ${role}`);
          await expect(client.query(sql), sql).rejects.toThrow(/permission denied/);
        } finally {
          await client.query("rollback");
        }
      }
    });
  }
});
