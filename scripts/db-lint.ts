// `npm run db:lint`: the Supabase CLI's `db lint --level warning` against DATABASE_URL (default: the
// local stack's database), each finding sorted against supabase/lint-allowlist.json. Exits 1 on a
// finding that is not allowlisted and on an allowlist entry that no longer matches any finding.
import { relative } from "node:path";
import { renderTable, summary } from "./db-lint/report.ts";
import { ALLOWLIST_PATH, lintAgainstAllowlist } from "./db-lint/run.ts";
import { ROOT } from "./stack/layout.ts";
import { DB_URL } from "./stack/postgres.ts";

async function main(): Promise<void> {
  const { rows, ok } = await lintAgainstAllowlist(process.env.DATABASE_URL || DB_URL);
  console.log(renderTable(rows));
  console.log(`\n${summary(rows, relative(ROOT, ALLOWLIST_PATH))}`);
  process.exitCode = ok ? 0 : 1;
}

main().catch((err) => {
  console.error(`db:lint: ${(err as Error).message}`);
  process.exit(1);
});
