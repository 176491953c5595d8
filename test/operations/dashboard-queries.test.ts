// The ready-to-paste dashboard queries in sql/dashboard run as they are on the migrated database.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/stack/layout.ts";
import { DB_URL } from "../support/db.ts";

const dir = join(ROOT, "sql", "dashboard");

describe("sql/dashboard", () => {
  const queries = readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort();

  it("has the queries people need", () => {
    expect(queries.length).toBeGreaterThanOrEqual(5);
  });

  for (const file of queries) {
    it(`${file} runs`, async () => {
      const client = new pg.Client({ connectionString: DB_URL });
      await client.connect();
      try {
        const res = await client.query(readFileSync(join(dir, file), "utf8"));
        expect(Array.isArray(res) ? res.at(-1)!.fields.length : res.fields.length).toBeGreaterThan(0);
      } finally {
        await client.end();
      }
    });
  }
});
