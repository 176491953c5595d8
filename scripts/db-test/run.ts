// The SQL tests: pgTAP files under supabase/tests, the Supabase CLI's convention (`supabase test db`
// runs them there, but needs Docker). Here pg_prove (Debian's, installed with the stack) runs each file
// against a fresh database that has the platform and every migration applied, connected as postgres,
// as the migrations and the app are. Each file runs in one transaction it rolls back, so files do not
// see each other's rows.
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { freshDatabase } from "../stack/databases.ts";
import { ROOT } from "../stack/layout.ts";
import { withAdmin } from "../stack/postgres.ts";
import { runCommand } from "../stack/run-command.ts";

export const SQL_TESTS_DIR = join(ROOT, "supabase", "tests");

/** Every `*.test.sql` under supabase/tests, in path order. */
export function sqlTestFiles(dir = SQL_TESTS_DIR): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".test.sql"))
    .sort()
    .map((f) => join(dir, f));
}

/** A fresh database `name` with pgTAP created (as the platform would: in schema extensions). */
export async function sqlTestDatabase(name: string): Promise<string> {
  const url = await freshDatabase(name);
  await withAdmin((c) => c.query("create extension if not exists pgtap with schema extensions"), name);
  return url;
}

export interface SqlTestResult {
  file: string;
  ok: boolean;
  output: string;
}

/** Runs one pgTAP file with pg_prove. `ok` is pg_prove's verdict: every planned test ran and passed. */
export async function runSqlTest(url: string, file: string): Promise<SqlTestResult> {
  const u = new URL(url);
  const args = [
    "--host",
    u.hostname,
    "--port",
    u.port,
    "--username",
    decodeURIComponent(u.username),
    "--dbname",
    u.pathname.slice(1),
    "--verbose",
    "--failures",
    file,
  ];
  // pgTAP's functions live in schema extensions, on the search path of postgres on a hosted project.
  const env = {
    ...process.env,
    PGPASSWORD: decodeURIComponent(u.password),
    PGOPTIONS: "-c search_path=public,extensions",
  };
  const { code, output } = await runCommand("pg_prove", args, env);
  return { file: relative(ROOT, file), ok: code === 0, output };
}
