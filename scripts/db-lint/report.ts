// What `npm run db:lint` and the stack test print: one row per finding or stale allowlist entry, then a
// summary that says what to do about a failure.
import type { Finding, Row } from "./compare.ts";

const HEADER = ["STATUS", "FUNCTION", "LEVEL", "MESSAGE"];

// plpgsql_check's messages are generic ("target type is different type than source type"); the detail
// and line say which types and where.
function describe(f: Finding): string {
  const extras = [f.detail, f.statement && `line ${f.statement.lineNumber}`].filter(Boolean);
  return extras.length ? `${f.message} (${extras.join("; ")})` : f.message;
}

function cells(row: Row): string[] {
  switch (row.status) {
    case "stale":
      return ["stale", row.entry.function, "-", `${row.entry.message} (allowlisted, no longer reported)`];
    default:
      return [row.status, row.finding.function, row.finding.level, describe(row.finding)];
  }
}

export function renderTable(rows: Row[]): string {
  if (rows.length === 0) return "no lint findings and no allowlist entries";
  const lines = [HEADER, ...rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  return lines
    .map((l) => l.map((c, i) => (i < l.length - 1 ? c.padEnd(widths[i]!) : c)).join("  "))
    .join("\n");
}

export function summary(rows: Row[], allowlistPath: string): string {
  const count = (s: Row["status"]) => rows.filter((r) => r.status === s).length;
  const [allowed, added, stale] = [count("allowed"), count("new"), count("stale")];
  const lines = [
    `${allowed + added} findings: ${allowed} allowed, ${added} new; ${stale} stale allowlist entries`,
  ];
  if (added)
    lines.push(
      `new: fix the function in a new migration, or list the finding with its reason in ${allowlistPath}`,
    );
  if (stale) lines.push(`stale: the finding is gone; remove its entry from ${allowlistPath}`);
  return lines.join("\n");
}
