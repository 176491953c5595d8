// What `supabase functions deploy` (CLI 2.117, server-side bundling) uploads for one Edge Function: the
// import map it picks and the files it reaches from index.ts. Mirrors GetFunctionConfig and
// ImportMap.WalkImportPaths in supabase/cli, so a test sees a function exactly as the platform will.
import { existsSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { importMapFor as importMapIn } from "../../scripts/stack/function-config.ts";
import { ROOT } from "../../scripts/stack/layout.ts";

/** The map the CLI falls back to, and the one every function names in config.toml. */
export const SHARED_IMPORT_MAP = "supabase/functions/import_map.json";

export interface ImportMap {
  imports: Record<string, string>;
}

export function readImportMap(path: string, root = ROOT): ImportMap {
  return JSON.parse(readFileSync(join(root, path), "utf8")) as ImportMap;
}

/** The map the CLI picks for the function (scripts/stack/function-config.ts), relative to the root. */
export function importMapFor(name: string, root = ROOT): string | undefined {
  const map = importMapIn(join(root, "supabase"), name);
  return map && posix.join("supabase", map);
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
