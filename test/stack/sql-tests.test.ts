// The pgTAP files under supabase/tests, one test each, run by pg_prove against one fresh database
// (each file rolls itself back). What SQL can test about SQL is tested there; this only runs them.
import { relative } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runSqlTest, sqlTestDatabase, sqlTestFiles } from "../../scripts/db-test/run.ts";
import { dropDatabase } from "../../scripts/stack/databases.ts";
import { ROOT } from "../../scripts/stack/layout.ts";

const DB = "sql_tests";
const files = sqlTestFiles();
let url: string;

beforeAll(async () => {
  url = await sqlTestDatabase(DB);
});
afterAll(() => dropDatabase(DB));

it("finds the SQL test files", () => {
  expect(files.length).toBeGreaterThan(0);
});

for (const file of files) {
  it(relative(ROOT, file), async () => {
    const r = await runSqlTest(url, file);
    expect(r.ok, r.output).toBe(true);
  });
}
