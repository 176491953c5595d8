// What `supabase functions deploy` (CLI 2.117, server-side bundling) uploads for one Edge Function: the
// import map it picks and the files it reaches from index.ts. Mirrors GetFunctionConfig and
// ImportMap.WalkImportPaths in supabase/cli, so a test sees a function exactly as the platform will.
import { existsSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { ROOT } from "../../scripts/stack/layout.ts";

/** The map the CLI falls back to, and the one every function names in config.toml. */
export const SHARED_IMPORT_MAP = "supabase/functions/import_map.json";

export interface ImportMap {
  imports: Record<string, string>;
}

export function readImportMap(path: string, root = ROOT): ImportMap {
  return JSON.parse(readFileSync(join(root, path), "utf8")) as ImportMap;
}

/** The CLI's precedence: config.toml's `import_map` (relative to supabase/), then the function's own
 * deno.json, deno.jsonc or import_map.json, then the shared fallback. Paths are relative to the root. */
export function importMapFor(name: string, root = ROOT): string | undefined {
  const config = readFileSync(join(root, "supabase", "config.toml"), "utf8");
  const configured = functionSetting(config, name, "import_map");
  if (configured) return posix.join("supabase", configured);
  for (const file of ["deno.json", "deno.jsonc", "import_map.json"]) {
    const path = `supabase/functions/${name}/${file}`;
    if (existsSync(join(root, path))) return path;
  }
  return existsSync(join(root, SHARED_IMPORT_MAP)) ? SHARED_IMPORT_MAP : undefined;
}

/** A string setting of `[functions.<name>]`; config.toml is ours, so a line reader is enough. */
function functionSetting(toml: string, name: string, key: string): string | undefined {
  let inSection = false;
  for (const line of toml.split("\n")) {
    const head = /^\s*\[([^\]]+)\]/.exec(line);
    if (head) inSection = head[1]!.replaceAll('"', "").trim() === `functions.${name}`;
    const setting = inSection ? new RegExp(`^\\s*${key}\\s*=\\s*"([^"]*)"`).exec(line) : null;
    if (setting) return setting[1];
  }
  return undefined;
}

// The CLI's own pattern, so the walk finds what the CLI finds and misses what it misses.
const IMPORT_PATH =
  /(?:import|export)\s+(?:{[^{}]+}|.*?)\s*(?:from)?\s*['"](.*?)['"]|import\(\s*['"](.*?)['"]\)/gi;

/** Every file the CLI uploads for the function, relative to the root: its import map, then the files
 * reached from index.ts through relative imports (after the map's substitutions). */
export function uploadedFiles(name: string, root = ROOT): string[] {
  const mapPath = importMapFor(name, root);
  const imports = mapPath ? readImportMap(mapPath, root).imports : {};
  const files = mapPath ? [mapPath] : [];
  const seen = new Set<string>();
  const queue = [`supabase/functions/${name}/index.ts`];
  while (queue.length > 0) {
    const current = queue.pop()!;
    if (seen.has(current)) continue;
    seen.add(current);
    // The CLI warns about a file it cannot read and goes on; the bundler then fails on it.
    if (!existsSync(join(root, current))) continue;
    files.push(current);
    for (const match of readFileSync(join(root, current), "utf8").matchAll(IMPORT_PATH)) {
      let specifier = (match[1] || match[2] || "").trim();
      let substituted = false;
      for (const [key, target] of Object.entries(imports)) {
        if (!specifier.startsWith(key)) continue;
        specifier = target + specifier.slice(key.length);
        substituted = true;
      }
      if (!posix.extname(specifier)) continue;
      const relative = specifier.startsWith("./") || specifier.startsWith("../");
      if (!relative && !specifier.startsWith("/")) continue;
      queue.push(
        posix.normalize(relative && !substituted ? posix.join(posix.dirname(current), specifier) : specifier),
      );
    }
  }
  return files;
}
