// Throw-away databases on the stack's cluster for tests and benchmarks, each with the platform
// stand-ins and every migration applied exactly as a hosted project gets them: the platform step as
// supabase_admin, then the Supabase CLI's `db push` as postgres. The CLI takes a few seconds per push, so
// it pushes once into a template database, and each fresh database is a copy of that template,
// rebuilt whenever a platform or migration file changes.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { applyMigrations, MIGRATIONS_DIR } from "./migrate.ts";
import { applyPlatform, PLATFORM_DIR } from "./platform.ts";
import { databaseUrl, withAdmin } from "./postgres.ts";

const TEMPLATE = "stack_migrated_template";
const NAME = /^[a-z_][a-z0-9_]*$/;

function sqlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .map((f) => join(dir, f));
}

/** Changes whenever anything the template is built from changes. */
function fingerprint(): string {
  const h = createHash("sha256");
  for (const f of [...sqlFiles(PLATFORM_DIR), ...sqlFiles(MIGRATIONS_DIR)]) {
    h.update(f).update("\0").update(readFileSync(f)).update("\0");
  }
  return h.digest("hex");
}

/** Creates an empty database owned by postgres, with the platform stand-ins applied. */
export async function createPlatformDatabase(name: string): Promise<string> {
  if (!NAME.test(name)) throw new Error(`bad database name ${name}`);
  await withAdmin(async (c) => {
    await c.query(`drop database if exists ${name} with (force)`);
    await c.query(`create database ${name} owner postgres`);
  });
  await withAdmin((c) => applyPlatform(c), name);
  return databaseUrl(name);
}

async function ensureTemplate(): Promise<void> {
  const want = fingerprint();
  await withAdmin(async (c) => {
    // One builder at a time; the others wait and then find it current.
    await c.query("select pg_advisory_lock(hashtext($1))", [TEMPLATE]);
    try {
      const { rows } = await c.query<{ fp: string | null }>(
        "select shobj_description(oid, 'pg_database') as fp from pg_database where datname = $1",
        [TEMPLATE],
      );
      if (rows[0]?.fp === want) return;
      const url = await createPlatformDatabase(TEMPLATE);
      await applyMigrations(url);
      await c.query(`comment on database ${TEMPLATE} is '${want}'`);
    } finally {
      await c.query("select pg_advisory_unlock(hashtext($1))", [TEMPLATE]);
    }
  });
}

/** A new database `name` (dropped first if it exists) with the platform and every migration applied. */
export async function freshDatabase(name: string): Promise<string> {
  if (!NAME.test(name)) throw new Error(`bad database name ${name}`);
  await ensureTemplate();
  await withAdmin(async (c) => {
    // Shared with other copies, exclusive with a rebuild (which drops the template).
    await c.query("select pg_advisory_lock_shared(hashtext($1))", [TEMPLATE]);
    try {
      await c.query(`drop database if exists ${name} with (force)`);
      await c.query(`create database ${name} owner postgres template ${TEMPLATE}`);
    } finally {
      await c.query("select pg_advisory_unlock_shared(hashtext($1))", [TEMPLATE]);
    }
  });
  return databaseUrl(name);
}

export async function dropDatabase(name: string): Promise<void> {
  if (!NAME.test(name)) throw new Error(`bad database name ${name}`);
  await withAdmin((c) => c.query(`drop database if exists ${name} with (force)`));
}
