// Properties of the code and logs that no single feature test covers: no SQL built by string
// interpolation of values, no secret in the repository or in the stack's logs, every Edge Function
// type-checks under Deno.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { DENO_BIN, LOG_DIR, ROOT } from "../../scripts/stack/layout.ts";
import { loadOrCreateSecrets } from "../../scripts/stack/secrets.ts";

function files(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(p, ext));
    else if (ext.test(entry.name)) out.push(p);
  }
  return out;
}

// Places that interpolate into SQL on purpose, each an identifier or a constant, never a value.
const INTERPOLATION_ALLOWED: Record<string, RegExp> = {
  "functions/shared/edge-webhook.ts": /^(update|select from) \$\{table\} /,
  "functions/operations/runs.ts": /^select \$\{COLUMNS\} from/,
};

describe("SQL from TypeScript", () => {
  it("passes values as parameters, never by interpolating them into the statement", () => {
    const offenders: string[] = [];
    for (const file of [
      ...files(join(ROOT, "functions"), /\.ts$/),
      ...files(join(ROOT, "supabase/functions"), /\.ts$/),
    ]) {
      const rel = relative(ROOT, file);
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/\.query(?:<[^>]*>)?\(\s*`([^`]*\$\{[^`]*)`/g)) {
        const allowed = INTERPOLATION_ALLOWED[rel];
        if (!allowed?.test(m[1]!)) offenders.push(`${rel}: ${m[1]!.slice(0, 80)}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

describe("secrets", () => {
  const secrets = loadOrCreateSecrets();
  const values = Object.values(secrets);

  it("are not in any tracked file", () => {
    const tracked = execFileSync("git", ["ls-files"], { cwd: ROOT }).toString().split("\n").filter(Boolean);
    for (const f of tracked) {
      const p = join(ROOT, f);
      if (statSync(p, { throwIfNoEntry: false })?.isFile() !== true) continue;
      const text = readFileSync(p, "utf8");
      for (const v of values) expect(text.includes(v), `${f} contains a stack secret`).toBe(false);
    }
  });

  it("are not in the stack's logs", () => {
    for (const f of readdirSync(LOG_DIR)) {
      const text = readFileSync(join(LOG_DIR, f), "utf8");
      for (const v of values)
        expect(text.includes(v), `.stack/logs/${f} contains a stack secret`).toBe(false);
    }
  });
});

describe("Edge Functions", () => {
  it("all pass deno check", { timeout: 180_000 }, () => {
    const entries = readdirSync(join(ROOT, "supabase/functions"), { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith("_"))
      .map((d) => join("supabase/functions", d.name, "index.ts"));
    expect(entries.length).toBeGreaterThanOrEqual(4);
    const res = (() => {
      try {
        execFileSync(DENO_BIN, ["check", "--quiet", ...entries], {
          cwd: ROOT,
          stdio: "pipe",
          env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" },
        });
        return "ok";
      } catch (err) {
        return String((err as { stderr?: Buffer }).stderr ?? err);
      }
    })();
    expect(res).toBe("ok");
  });
});
