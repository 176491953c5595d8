// The Supabase CLI's `db lint --level warning` over the stack's database, migrations applied: every
// finding must be fixed or listed with its reason in supabase/lint-allowlist.json, and every listed
// finding must still occur. This is how `npm test` fails on a new plpgsql_check warning.
import { relative } from "node:path";
import { expect, it } from "vitest";
import { renderTable, summary } from "../../scripts/db-lint/report.ts";
import { ALLOWLIST_PATH, lintAgainstAllowlist } from "../../scripts/db-lint/run.ts";
import { ROOT } from "../../scripts/stack/layout.ts";

it("reports no finding outside the allowlist, and no stale allowlist entry", async () => {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set: the suite's global setup exports the stack's");
  const { rows } = await lintAgainstAllowlist(url);
  const report = `${renderTable(rows)}\n\n${summary(rows, relative(ROOT, ALLOWLIST_PATH))}\n`;
  expect(
    rows.filter((r) => r.status !== "allowed"),
    report,
  ).toEqual([]);
});
