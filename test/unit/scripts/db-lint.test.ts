import { describe, expect, it } from "vitest";
import {
  type AllowEntry,
  compare,
  type LintResult,
  parseAllowlist,
  parseLintOutput,
} from "../../../scripts/db-lint/compare.ts";
import { renderTable, summary } from "../../../scripts/db-lint/report.ts";
import { loadAllowlist } from "../../../scripts/db-lint/run.ts";
import { cliUrl } from "../../../scripts/stack/cli-url.ts";

const unused = (fn: string, param: string): LintResult => ({
  function: fn,
  issues: [{ level: "warning extra", message: `unused parameter "${param}"`, sqlState: "00000" }],
});

const entry = (fn: string, message: string): AllowEntry => ({ function: fn, message, reason: "because" });

describe("compare", () => {
  it("allows a finding whose function and whole message match an entry", () => {
    const { rows, ok } = compare([unused("s.f", "p_now")], [entry("s.f", 'unused parameter "p_now"')]);
    expect(ok).toBe(true);
    expect(rows.map((r) => r.status)).toEqual(["allowed"]);
  });

  it("flags a finding no entry matches as new, and an entry nothing matches as stale", () => {
    const { rows, ok } = compare([unused("s.g", "p_now")], [entry("s.f", 'unused parameter "p_now"')]);
    expect(ok).toBe(false);
    expect(rows.map((r) => [r.status, "finding" in r ? r.finding.function : r.entry.function])).toEqual([
      ["new", "s.g"],
      ["stale", "s.f"],
    ]);
  });

  it("matches the message as a pattern over the whole message, not a substring", () => {
    const results = [unused("s.f", "p_now"), unused("s.f", "p_nowhere")];
    const { rows } = compare(results, [entry("s.f", 'unused parameter "p_now"')]);
    expect(rows.map((r) => r.status)).toEqual(["allowed", "new"]);
    expect(compare(results, [entry("s.f", 'unused parameter "p_now.*"')]).ok).toBe(true);
  });

  it("lets one entry cover several findings and reports a duplicate entry as stale", () => {
    const results = [unused("s.f", "a"), unused("s.f", "b")];
    const { rows } = compare(results, [
      entry("s.f", "unused parameter .*"),
      entry("s.f", 'unused parameter "a"'),
    ]);
    expect(rows.map((r) => r.status)).toEqual(["allowed", "allowed", "stale"]);
  });

  it("is clean with no findings and no entries", () => {
    expect(compare([], [])).toEqual({ rows: [], ok: true });
  });
});

describe("parseAllowlist", () => {
  it("needs a function, a message and a reason in every entry", () => {
    expect(() => parseAllowlist({ entries: [{ function: "s.f", message: "m" }] })).toThrow(
      /entry 0 .*"reason"/,
    );
    expect(() => parseAllowlist({ entries: [{ function: "s.f", message: "m", reason: " " }] })).toThrow(
      /reason/,
    );
    expect(() => parseAllowlist({})).toThrow(/entries/);
  });

  it("rejects a message that is not a regular expression", () => {
    expect(() => parseAllowlist({ entries: [entry("s.f", "unused (")] })).toThrow(
      /s\.f: bad message pattern/,
    );
  });

  it("accepts the project's allowlist", () => {
    expect(loadAllowlist().length).toBeGreaterThan(0);
  });
});

describe("parseLintOutput", () => {
  it("reads the results of --output-format json", () => {
    const out = JSON.stringify({ results: [unused("s.f", "p")], message: "db lint" });
    expect(parseLintOutput(out)).toEqual([unused("s.f", "p")]);
    expect(parseLintOutput('{"results":[],"message":"db lint"}')).toEqual([]);
  });

  it("refuses output without results", () => {
    expect(() => parseLintOutput('{"_tag":"Error"}')).toThrow(/no results/);
  });
});

describe("cliUrl", () => {
  it("turns TLS off for a loopback database that does not say", () => {
    expect(cliUrl("postgresql://postgres:postgres@127.0.0.1:54322/postgres")).toBe(
      "postgresql://postgres:postgres@127.0.0.1:54322/postgres?sslmode=disable",
    );
  });

  it("leaves an explicit sslmode and a remote database alone", () => {
    const explicit = "postgresql://postgres:pw@localhost:5432/postgres?sslmode=require";
    const remote = "postgresql://postgres:pw@db.example.supabase.co:5432/postgres";
    expect(cliUrl(explicit)).toBe(explicit);
    expect(cliUrl(remote)).toBe(remote);
  });
});

describe("report", () => {
  it("shows each row with the detail and line that say which types and where", () => {
    const results: LintResult[] = [
      {
        function: "s.g",
        issues: [
          {
            level: "warning",
            message: "target type is different type than source type",
            detail: 'cast "text" value to "jsonb" type',
            statement: { lineNumber: "4", text: "RETURN" },
          },
        ],
      },
    ];
    const { rows } = compare(results, [entry("s.f", "gone")]);
    const table = renderTable(rows).split("\n");
    expect(table[0]).toMatch(/^STATUS\s+FUNCTION\s+LEVEL\s+MESSAGE$/);
    expect(table[1]).toMatch(/^new\s+s\.g\s+warning\s+.*\(cast "text" value to "jsonb" type; line 4\)$/);
    expect(table[2]).toMatch(/^stale\s+s\.f\s+-\s+gone \(allowlisted, no longer reported\)$/);
    expect(summary(rows, "allow.json")).toMatch(
      /1 findings: 0 allowed, 1 new; 1 stale[\s\S]*new: [\s\S]*stale: /,
    );
  });
});
