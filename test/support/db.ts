// Database helpers for integration tests. `freshDatabase` gives a test its own database on the stack's
// cluster, with the platform stand-ins and every migration applied, so it can truncate or break things
// without touching the shared `postgres` database that the functions server and workers use.
import pg from "pg";
import { applyMigrations } from "../../scripts/stack/migrate.ts";
import { applyPlatform } from "../../scripts/stack/platform.ts";
import { DB_URL, withClient } from "../../scripts/stack/postgres.ts";

export { DB_URL, withClient };

export function databaseUrl(name: string): string {
  const u = new URL(DB_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function freshDatabase(name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
  await withClient(async (c) => {
    await c.query(`drop database if exists ${name} with (force)`);
    await c.query(`create database ${name}`);
  });
  const url = databaseUrl(name);
  await withClient(async (c) => {
    await applyPlatform(c);
    await applyMigrations(c);
  }, url);
  return url;
}

export async function dropDatabase(name: string): Promise<void> {
  await withClient((c) => c.query(`drop database if exists ${name} with (force)`));
}

export function pool(url = DB_URL, max = 4): pg.Pool {
  return new pg.Pool({ connectionString: url, max });
}
