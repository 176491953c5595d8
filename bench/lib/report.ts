// Benchmarks print a table and write it into BENCHMARKS.md, each into its own marked section, so
// running one benchmark updates its numbers and leaves the others' alone.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../scripts/stack/layout.ts";

export type Row = Record<string, string | number>;

export function formatTable(rows: Row[]): string {
  if (rows.length === 0) return "(no rows)";
  const cols = Object.keys(rows[0]!);
  const cell = (v: string | number | undefined) =>
    typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 3 : 1)) : (v ?? "");
  const header = `| ${cols.join(" | ")} |`;
  const sep = `| ${cols.map(() => "---").join(" | ")} |`;
  return [header, sep, ...rows.map((r) => `| ${cols.map((c) => cell(r[c])).join(" | ")} |`)].join("\n");
}

export function machine(): string {
  return `${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

/** Prints the table and replaces (or appends) this benchmark's section of BENCHMARKS.md. */
export function report(
  name: string,
  title: string,
  rows: Row[],
  notes = "",
  command = `npm run bench:${name}`,
): void {
  const table = formatTable(rows);
  console.log(`\n${title}\n${table}\n${notes}`);
  const file = join(ROOT, "BENCHMARKS.md");
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const section = [
    start,
    `## ${title}`,
    "",
    `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on ${machine()}. Run: \`${command}\`.`,
    "",
    table,
    notes ? `\n${notes.trim()}` : "",
    end,
  ].join("\n");
  let doc = existsSync(file)
    ? readFileSync(file, "utf8")
    : "# Benchmarks\n\nNumbers written by the scripts in `bench/`; rerun one to refresh its section.\n";
  const re = new RegExp(`${start}[\\s\\S]*?${end}`);
  doc = re.test(doc) ? doc.replace(re, section) : `${doc.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, doc);
}
