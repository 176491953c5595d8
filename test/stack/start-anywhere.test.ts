// A clone in a folder the postgres OS user cannot enter (a clone under /root, mode 700) must still get
// a cluster: initdb used to fail there with "could not change directory ... Permission denied". The
// stack's own modules are copied into such a folder and create their cluster from there.
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NODE_BIN, ROOT } from "../../scripts/stack/layout.ts";

const isRoot = process.getuid?.() === 0;
const outer = mkdtempSync(join(tmpdir(), "closed-"));
let pgHome: string | undefined;
let recloneHome: string | undefined;

afterAll(() => {
  for (const home of [pgHome, recloneHome])
    if (home?.startsWith("/var/lib/postgresql/durable-pipelines/"))
      rmSync(home, { recursive: true, force: true });
  rmSync(outer, { recursive: true, force: true });
});

/** A clone with only the stack's own modules, enough to create its cluster. */
function makeClone(clone: string): void {
  mkdirSync(join(clone, "scripts"), { recursive: true });
  cpSync(join(ROOT, "scripts", "stack"), join(clone, "scripts", "stack"), { recursive: true });
  symlinkSync(join(ROOT, "node_modules"), join(clone, "node_modules"));
}

/** What ensureCluster() does when the stack's modules run from this clone. */
function ensureClusterIn(clone: string): { home: string; created: boolean; removedStale: boolean } {
  const out = execFileSync(
    NODE_BIN,
    [
      "--input-type=module",
      "-e",
      `const l = await import("./scripts/stack/layout.ts");
       const p = await import("./scripts/stack/postgres.ts");
       console.log(JSON.stringify({ home: l.PG_HOME, ...p.ensureCluster() }));`,
    ],
    { cwd: clone, encoding: "utf8" },
  );
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

describe.runIf(isRoot)("a clone the postgres OS user cannot enter", () => {
  it("still gets a cluster, kept where postgres can reach it and linked from .stack", {
    timeout: 60_000,
  }, () => {
    chmodSync(outer, 0o700);
    const clone = join(outer, "clone");
    makeClone(clone);
    expect(() => execFileSync("runuser", ["-u", "postgres", "--", "test", "-x", outer])).toThrow();

    const result = ensureClusterIn(clone);
    pgHome = result.home;
    expect(result.created).toBe(true);
    expect(pgHome.startsWith("/var/lib/postgresql/durable-pipelines/clone-")).toBe(true);
    expect(existsSync(join(clone, ".stack", "pgdata", "PG_VERSION"))).toBe(true);
    execFileSync("runuser", ["-u", "postgres", "--", "test", "-w", join(pgHome, "pgdata")]);
  });

  // CI clones to the same path every time: the cluster named by that path is the last clone's, with its
  // data and migration history, which the next clone's migrations may no longer match.
  it("keeps its own cluster, but a new clone at a deleted clone's path gets a new one", {
    timeout: 120_000,
  }, () => {
    const clone = join(outer, "reclone");
    makeClone(clone);
    const first = ensureClusterIn(clone);
    recloneHome = first.home;
    expect(first).toMatchObject({ created: true, removedStale: false });
    // A file only the first clone's cluster has.
    const left = join(first.home, "pgdata", "left-by-first-clone");
    writeFileSync(left, "");
    expect(ensureClusterIn(clone)).toMatchObject({ created: false, removedStale: false });
    expect(existsSync(left)).toBe(true);

    rmSync(clone, { recursive: true, force: true });
    makeClone(clone);
    const second = ensureClusterIn(clone);
    expect(second).toMatchObject({ home: first.home, created: true, removedStale: true });
    expect(existsSync(left)).toBe(false);
    expect(existsSync(join(clone, ".stack", "pgdata", "PG_VERSION"))).toBe(true);
  });
});
