// Applies supabase/migrations with the real Supabase CLI (`supabase db push --db-url`), as `postgres`,
// so the migration history in supabase_migrations.schema_migrations is the CLI's own and every
// statement runs with the rights it has on a hosted project. The CLI applies each file in its own
// transaction: a failing file leaves nothing of itself behind, and the files before it stay applied.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { cliUrl } from "./cli-url.ts";
import { ROOT, SUPABASE_BIN } from "./layout.ts";
import { runCommand } from "./run-command.ts";

export const MIGRATIONS_DIR = join(ROOT, "supabase", "migrations");

export interface Migration {
  version: string;
  name: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort()
    .map((f) => {
      const [, version, name] = /^(\d+)_(.+)\.sql$/.exec(f)!;
      return { version: version!, name: name! };
    });
}

/** What the CLI printed as applied, in order: `Applying migration <version>_<name>.sql...`. */
export function appliedFromOutput(output: string): string[] {
  return [...output.matchAll(/^Applying migration (\d+_.+?)\.sql\.\.\.$/gm)].map((m) => m[1]!);
}

/**
 * Runs `supabase db push` against `dbUrl` for the project in `workdir` (whose supabase/migrations it
 * reads) and returns the files it applied. Throws with the CLI's own message and the failing file.
 */
export async function applyMigrations(dbUrl: string, workdir = ROOT): Promise<string[]> {
  // --include-all: engineers add migrations in parallel under separate version ranges, so the shared
  // dev database may already hold a later version than a file added since; without it the CLI refuses
  // ("Found local migration files to be inserted before the last migration") and every test stops.
  const args = ["db", "push", "--db-url", cliUrl(dbUrl), "--yes", "--include-all", "--workdir", workdir];
  // No stdin: `--yes` answers the CLI's one prompt.
  const { code, output } = await runCommand(SUPABASE_BIN, args);
  const applied = appliedFromOutput(output);
  if (code !== 0) {
    if (/Remote migration versions not found in local migrations directory/.test(output)) {
      throw new Error(
        "the database's migration history names versions that supabase/migrations no longer has (the " +
          "migrations were reorganised): `npm run stack -- reset` rebuilds the local database (its data is lost)",
      );
    }
    const failed = applied.at(-1);
    const detail = output
      .split("\n")
      .filter((l) => /^(ERROR|At statement|failed|error)/i.test(l.trim()) || /SQLSTATE/.test(l))
      .join("\n");
    throw new Error(
      `supabase db push failed${failed ? ` in ${failed}.sql` : ""}: ${detail || output.trim().split("\n").slice(-5).join("\n")}`,
    );
  }
  return applied;
}
