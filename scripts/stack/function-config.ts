// What a Supabase project's config.toml and folders say about one Edge Function, read the way the CLI reads
// them: which import map resolves its packages and whether the platform checks the caller's JWT. Shared by
// the local functions server (run by Deno) and the tests that stage a function as the CLI uploads it.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** A setting of `[functions.<name>]` (a quoted string or a bare word); config.toml is ours, so a line
 * reader is enough. */
export function functionSetting(toml: string, name: string, key: string): string | undefined {
  let inSection = false;
  for (const line of toml.split("\n")) {
    const head = /^\s*\[([^\]]+)\]/.exec(line);
    if (head) inSection = head[1]!.replaceAll('"', "").trim() === `functions.${name}`;
    const setting = inSection ? new RegExp(`^\\s*${key}\\s*=\\s*(?:"([^"]*)"|(\\w+))`).exec(line) : null;
    if (setting) return setting[1] ?? setting[2];
  }
  return undefined;
}

function readConfig(supabaseDir: string): string {
  const path = join(supabaseDir, "config.toml");
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

/** The CLI's precedence, as a path relative to `supabaseDir` (the folder holding config.toml and
 * functions/): config.toml's `import_map`, then the function's own deno.json, deno.jsonc or import_map.json,
 * then functions/import_map.json. */
export function importMapFor(supabaseDir: string, name: string): string | undefined {
  const configured = functionSetting(readConfig(supabaseDir), name, "import_map");
  if (configured) return join(configured);
  for (const file of ["deno.json", "deno.jsonc", "import_map.json"]) {
    const path = join("functions", name, file);
    if (existsSync(join(supabaseDir, path))) return path;
  }
  const shared = join("functions", "import_map.json");
  return existsSync(join(supabaseDir, shared)) ? shared : undefined;
}

/** The platform checks the caller's JWT unless config.toml sets `verify_jwt = false` for the function. */
export function verifiesJwt(supabaseDir: string, name: string): boolean {
  return functionSetting(readConfig(supabaseDir), name, "verify_jwt") !== "false";
}
