// `npm run db:test [file...]`: the pgTAP files under supabase/tests (or the ones named), each against a
// fresh database on the local stack. `npm test` runs the same through test/stack/sql-tests.test.ts.
import { resolve } from "node:path";
import { runSqlTest, sqlTestDatabase, sqlTestFiles } from "./db-test/run.ts";
import { dropDatabase } from "./stack/databases.ts";

async function main(): Promise<void> {
  const files = process.argv.length > 2 ? process.argv.slice(2).map((f) => resolve(f)) : sqlTestFiles();
  const url = await sqlTestDatabase("sql_tests_cli");
  let failed = 0;
  try {
    for (const file of files) {
      const r = await runSqlTest(url, file);
      process.stdout.write(r.output);
      if (!r.ok) failed++;
    }
  } finally {
    await dropDatabase("sql_tests_cli");
  }
  console.log(`\n${files.length - failed} of ${files.length} SQL test files passed`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((err) => {
  console.error(`db:test: ${(err as Error).message}`);
  process.exit(1);
});
