// Sorts what `supabase db lint` reports against supabase/lint-allowlist.json: each finding is allowed
// (an entry names its function and matches its message) or new, and each entry that matches nothing
// is stale, because the finding it excused is gone and the excuse must not outlive it. Pure, so it is
// unit-tested without a database.

/** One function's issues, as `supabase db lint --output-format json` reports them under `results`. */
export interface LintResult {
  function: string;
  issues: LintIssue[];
}

export interface LintIssue {
  level: string;
  message: string;
  sqlState?: string;
  detail?: string;
  hint?: string;
  context?: string;
  statement?: { lineNumber: string; text: string };
}

export interface AllowEntry {
  function: string;
  /** A regular expression that must match the whole message. */
  message: string;
  reason: string;
}

export interface Finding extends LintIssue {
  function: string;
}

export type Row =
  | { status: "allowed"; finding: Finding; entry: AllowEntry }
  | { status: "new"; finding: Finding }
  | { status: "stale"; entry: AllowEntry };

export interface Comparison {
  rows: Row[];
  ok: boolean;
}

export function parseLintOutput(stdout: string): LintResult[] {
  const out = JSON.parse(stdout) as { results?: unknown };
  if (!Array.isArray(out.results))
    throw new Error(`supabase db lint printed no results: ${stdout.slice(0, 200)}`);
  return out.results as LintResult[];
}

export function parseAllowlist(json: unknown): AllowEntry[] {
  const entries = (json as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(entries)) throw new Error("the lint allowlist needs an `entries` array");
  return entries.map((e, i) => {
    const entry = e as Partial<AllowEntry>;
    for (const key of ["function", "message", "reason"] as const) {
      if (typeof entry[key] !== "string" || entry[key].trim() === "")
        throw new Error(`lint allowlist entry ${i} needs a non-empty "${key}"`);
    }
    messagePattern(entry as AllowEntry);
    return entry as AllowEntry;
  });
}

function messagePattern(entry: AllowEntry): RegExp {
  try {
    return new RegExp(`^(?:${entry.message})$`);
  } catch (err) {
    throw new Error(
      `lint allowlist entry for ${entry.function}: bad message pattern: ${(err as Error).message}`,
    );
  }
}

function matches(entry: AllowEntry, finding: Finding): boolean {
  return entry.function === finding.function && messagePattern(entry).test(finding.message);
}

export function compare(results: LintResult[], allowlist: AllowEntry[]): Comparison {
  const findings = results.flatMap((r) => r.issues.map((issue) => ({ ...issue, function: r.function })));
  const used = new Set<AllowEntry>();
  const rows: Row[] = findings.map((finding) => {
    const entry = allowlist.find((e) => matches(e, finding));
    if (!entry) return { status: "new", finding };
    used.add(entry);
    return { status: "allowed", finding, entry };
  });
  for (const entry of allowlist) if (!used.has(entry)) rows.push({ status: "stale", entry });
  return { rows, ok: rows.every((r) => r.status === "allowed") };
}
