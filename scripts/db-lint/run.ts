// Runs the real Supabase CLI's `db lint` (plpgsql_check over every PL/pgSQL function outside the
// platform's own schemas) against a database and sorts its findings against the allowlist.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { cliUrl } from "../stack/cli-url.ts";
import { ROOT } from "../stack/layout.ts";
import {
  type AllowEntry,
  type Comparison,
  compare,
  type LintResult,
  parseAllowlist,
  parseLintOutput,
} from "./compare.ts";

export const ALLOWLIST_PATH = join(ROOT, "supabase", "lint-allowlist.json");
const SUPABASE = join(ROOT, "node_modules", ".bin", "supabase");
export async function runLint(url: string): Promise<LintResult[]> {
  // --output-format json always prints one document, {"results": [...]}, even when there are no
  // findings; `-o json` prints a bare array, or nothing at all for a clean database.
  const args = ["db", "lint", "--db-url", cliUrl(url), "--level", "warning", "--output-format", "json"];
  try {
    const { stdout } = await promisify(execFile)(SUPABASE, args, {
      cwd: ROOT,
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return parseLintOutput(stdout);
  } catch (err) {
    const e = err as Error & { code?: number | string; signal?: string; stdout?: string; stderr?: string };
    if (e.stdout === undefined) throw err;
    // Not e.message: it repeats the command line, and with it the URL's password.
    throw new Error(`supabase db lint failed (${e.signal ?? `exit ${e.code}`}):\n${e.stderr}${e.stdout}`);
  }
}

export function loadAllowlist(path = ALLOWLIST_PATH): AllowEntry[] {
  return parseAllowlist(JSON.parse(readFileSync(path, "utf8")));
}

export async function lintAgainstAllowlist(url: string): Promise<Comparison> {
  return compare(await runLint(url), loadAllowlist());
}
