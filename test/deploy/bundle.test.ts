// The deploy-shaped check: each Edge Function, reduced to what `supabase functions deploy` uploads, must
// type-check and load with nothing but the npm registry, as the platform's bundler resolves it. The local
// stack cannot show this: it resolves every function through package.json and node_modules.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { edgeFunctions } from "../../scripts/deploy.ts";
import { ROOT } from "../../scripts/stack/layout.ts";
import { load, type Staged, stageUpload, typeCheck, writeHarness } from "../support/deploy-shaped.ts";
import { readImportMap, SHARED_IMPORT_MAP } from "../support/edge-upload.ts";

const names = edgeFunctions();
let harness: string;
// Empty at the start of every run, and shared by the functions so each package downloads once.
let denoDir: string;
let staged: Map<string, Staged>;

beforeAll(() => {
  harness = mkdtempSync(join(tmpdir(), "deploy-shaped-"));
  denoDir = join(harness, ".deno");
  writeHarness(
    harness,
    existsSync(join(ROOT, SHARED_IMPORT_MAP)) ? readImportMap(SHARED_IMPORT_MAP).imports : {},
  );
  staged = new Map(names.map((name) => [name, stageUpload(name, harness)]));
});

afterAll(() => rmSync(harness, { recursive: true, force: true }));

describe("every Edge Function, as supabase functions deploy uploads it (DENO_NO_PACKAGE_JSON=1, npm registry only)", () => {
  it("type-checks", async () => {
    const checked = await typeCheck([...staged.values()], denoDir);
    expect(checked.ok, `deno check:\n${checked.stderr}`).toBe(true);
  }, 180_000);

  // After the check, so every package is already in the DENO_DIR.
  it.each(names)(
    "%s loads and calls Deno.serve(handler)",
    async (name) => {
      const loaded = await load(staged.get(name)!, denoDir);
      expect(loaded.ok, `loading ${name}:\n${loaded.stderr}`).toBe(true);
    },
    60_000,
  );
});
