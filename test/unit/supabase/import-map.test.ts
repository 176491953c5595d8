// The import map is how the Edge Functions resolve packages once deployed: the CLI bundles them with
// DENO_NO_PACKAGE_JSON=1, so a bare specifier the map lacks breaks the deploy, and a version that differs from
// package-lock.json runs other code on the platform than the worker and the tests run here.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { edgeFunctions } from "../../../scripts/deploy.ts";
import { ROOT } from "../../../scripts/stack/layout.ts";
import { importMapFor, readImportMap, SHARED_IMPORT_MAP, uploadedFiles } from "../../support/edge-upload.ts";

const readJson = (path: string) => JSON.parse(readFileSync(join(ROOT, path), "utf8"));
const { imports } = readImportMap(SHARED_IMPORT_MAP);

/** Whether Deno resolves the specifier without package.json: relative, a Node builtin, or mapped. */
function resolvable(specifier: string): boolean {
  if (/^\.{0,2}\//.test(specifier) || specifier.startsWith("node:")) return true;
  return Object.keys(imports).some(
    (key) => key === specifier || (key.endsWith("/") && specifier.startsWith(key)),
  );
}

describe(SHARED_IMPORT_MAP, () => {
  it("is the one map every function deploys with, and the one Deno uses here", () => {
    for (const name of edgeFunctions()) expect(importMapFor(name), name).toBe(SHARED_IMPORT_MAP);
    expect(readJson("deno.json").importMap).toBe(`./${SHARED_IMPORT_MAP}`);
  });

  it("pins every entry to package-lock.json's version of a runtime dependency", () => {
    const lock = readJson("package-lock.json").packages;
    const { dependencies } = readJson("package.json");
    for (const [key, target] of Object.entries(imports)) {
      const [, name, version, subpath = ""] = /^npm:((?:@[^/]+\/)?[^/@]+)@([^/]+)(\/.*)?$/.exec(target) ?? [];
      expect(name, `${key}: ${target} is not npm:<package>@<version>[/<subpath>]`).toBeDefined();
      expect(`${name}${subpath}`, `${key} maps to another package`).toBe(key);
      expect(Object.keys(dependencies), `${name} is not in package.json's dependencies`).toContain(name);
      expect(version, `${key}: package-lock.json has ${name} at another version`).toBe(
        lock[`node_modules/${name}`]?.version,
      );
    }
  });

  it("maps every bare specifier a function reaches, directly or through relative imports", () => {
    const files = new Set(edgeFunctions().flatMap((name) => uploadedFiles(name)));
    const unmapped = [...files]
      .filter((file) => file.endsWith(".ts"))
      .flatMap((file) =>
        ts
          .preProcessFile(readFileSync(join(ROOT, file), "utf8"), true, true)
          .importedFiles.map((f) => f.fileName)
          .filter((specifier) => !resolvable(specifier))
          .map((specifier) => `${file}: ${specifier}`),
      );
    // npm:, jsr: or URL imports count too: the map is the one place versions are pinned (and JSR is not
    // reachable from here).
    expect(unmapped, `import these by a name ${SHARED_IMPORT_MAP} maps`).toEqual([]);
  });
});
