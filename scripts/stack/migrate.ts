// Applies supabase/migrations/*.sql in file order, each exactly once, recording them in
// supabase_migrations.schema_migrations as the Supabase CLI does. Each file runs in its own
// transaction, so a failing migration leaves nothing half-applied.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import { ROOT } from "./layout.ts";

export const MIGRATIONS_DIR = join(ROOT, "supabase", "migrations");

export interface Migration {
  version: string;
  name: string;
  path: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort()
    .map((f) => {
      const [, version, name] = /^(\d+)_(.+)\.sql$/.exec(f)!;
      return { version: version!, name: name!, path: join(dir, f) };
    });
}

export async function applyMigrations(client: pg.Client, dir = MIGRATIONS_DIR): Promise<string[]> {
  await client.query(`
    create schema if not exists supabase_migrations;
    create table if not exists supabase_migrations.schema_migrations (
      version text primary key, name text, statements text[], applied_at timestamptz default now()
    );`);
  // One migrator at a time: two stacks coming up at once must not both apply a file.
  await client.query("select pg_advisory_lock(hashtext('supabase_migrations'))");
  try {
    const done = new Set(
      (
        await client.query<{ version: string }>("select version from supabase_migrations.schema_migrations")
      ).rows.map((r) => r.version),
    );
    const applied: string[] = [];
    for (const m of listMigrations(dir)) {
      if (done.has(m.version)) continue;
      const sql = readFileSync(m.path, "utf8");
      await client.query("begin");
      try {
        await client.query(sql);
        await client.query(
          "insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)",
          [m.version, m.name, [sql]],
        );
        await client.query("commit");
      } catch (err) {
        await client.query("rollback");
        throw new Error(`migration ${m.version}_${m.name}.sql failed: ${(err as Error).message}`);
      }
      applied.push(`${m.version}_${m.name}`);
    }
    return applied;
  } finally {
    await client.query("select pg_advisory_unlock(hashtext('supabase_migrations'))");
  }
}
