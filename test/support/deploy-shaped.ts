// Runs Deno on Edge Functions staged in empty directories exactly as `supabase functions deploy` uploads them
// (edge-upload.ts): no package.json or node_modules, DENO_NO_PACKAGE_JSON=1 as the CLI bundles, and
// packages only from the npm registry into the DENO_DIR the caller gives.
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { DENO_BIN, ROOT } from "../../scripts/stack/layout.ts";
import { importMapFor, uploadedFiles } from "./edge-upload.ts";

export interface Staged {
  /** The harness directory (writeHarness) the function is staged in, one folder per function. */
  harness: string;
  entry: string;
  importMap?: string;
}

export function stageUpload(name: string, harness: string): Staged {
  const dir = join(harness, name);
  for (const file of uploadedFiles(name)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(dir, file));
  }
  const importMap = importMapFor(name);
  return {
    harness,
    entry: join(dir, "supabase", "functions", name, "index.ts"),
    importMap: importMap && join(dir, importMap),
  };
}

// Imports one function with Deno.serve recording the handler instead of listening, then exits, so a timer
// the function leaves running cannot keep the check waiting.
const LOADER = `let handler;
Object.assign(Deno, {
  serve(...args) {
    handler = args.find((a) => typeof a === "function") ?? args[0]?.handler;
    return { finished: Promise.resolve(), shutdown: async () => {}, ref() {}, unref() {} };
  },
});
await import(Deno.args[0]);
if (typeof handler !== "function") {
  console.error("index.ts did not call Deno.serve(handler)");
  Deno.exit(1);
}
Deno.exit(0);
`;

/** Writes the checks' own files into `harness`, the parent of every staged function: a loader and a Deno
 * config with the project's compiler options. Packages that ship no types (pg) get the `@types` package the
 * Node side uses, at package-lock.json's version, so `deno check` is as strict here as `npm run typecheck`;
 * the platform never type-checks, so this changes nothing about what deploys. */
export function writeHarness(harness: string, imports: Record<string, string>): void {
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")).packages;
  const declarations = Object.values(imports).flatMap((target) => {
    const [, name, subpath = ""] = /^npm:((?:@[^/]+\/)?[^/@]+)@[^/]+(\/.*)?$/.exec(target) ?? [];
    const types = name && `@types/${name.replace(/^@/, "").replace("/", "__")}`;
    const version = types && lock[`node_modules/${types}`]?.version;
    if (!version) return [];
    const from = `npm:${types}@${version}${subpath}`;
    return [
      `declare module "${target}" {\n  export * from "${from}";\n  import d from "${from}";\n  export default d;\n}`,
    ];
  });
  const project = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8"));
  writeFileSync(join(harness, "npm-types.d.ts"), `${declarations.join("\n")}\n`);
  writeFileSync(
    join(harness, "deno.json"),
    JSON.stringify({ compilerOptions: { ...project.compilerOptions, types: ["./npm-types.d.ts"] } }),
  );
  writeFileSync(join(harness, "load.js"), LOADER);
}

export interface DenoResult {
  ok: boolean;
  stderr: string;
}

function deno(harness: string, importMap: string | undefined, args: string[], denoDir: string) {
  const map = importMap ? ["--import-map", importMap] : [];
  const argv = [
    args[0]!,
    "--quiet",
    "--no-lock",
    "--config",
    join(harness, "deno.json"),
    ...map,
    ...args.slice(1),
  ];
  const env = {
    ...process.env,
    DENO_DIR: denoDir,
    DENO_NO_PACKAGE_JSON: "1",
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
  };
  return new Promise<DenoResult>((resolve) => {
    execFile(DENO_BIN, argv, { cwd: harness, env, timeout: 180_000 }, (err, _stdout, stderr) =>
      resolve({ ok: !err, stderr: err && !stderr ? err.message : stderr }),
    );
  });
}

/** `deno check` over every staged function in one program per import map, which costs about what checking
 * one function costs; each error names the function's folder. */
export async function typeCheck(staged: Staged[], denoDir: string): Promise<DenoResult> {
  const byMap = new Map<string, Staged[]>();
  for (const s of staged) {
    const map = s.importMap ? readFileSync(s.importMap, "utf8") : "";
    byMap.set(map, [...(byMap.get(map) ?? []), s]);
  }
  const results = await Promise.all(
    [...byMap.values()].map((group) =>
      deno(group[0]!.harness, group[0]!.importMap, ["check", ...group.map((s) => s.entry)], denoDir),
    ),
  );
  return { ok: results.every((r) => r.ok), stderr: results.map((r) => r.stderr).join("") };
}

export function load(staged: Staged, denoDir: string): Promise<DenoResult> {
  const loader = join(staged.harness, "load.js");
  const args = ["run", "--allow-all", "--no-prompt", loader, pathToFileURL(staged.entry).href];
  return deno(staged.harness, staged.importMap, args, denoDir);
}
