// The `insert into ingest_sources` examples in docs/ingest.md are what newcomers paste: they insert as
// written, and each config parses for its kind (so no example teaches a key the worker refuses).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sourceKind } from "../../functions/ingest/sources/index.ts";
import { ROOT } from "../../scripts/stack/layout.ts";
import { dropDatabase, freshDatabase } from "../support/db.ts";

const DB = "ingest_docs_examples";
let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client({ connectionString: await freshDatabase(DB) });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await dropDatabase(DB);
});

function examples(): string {
  const doc = readFileSync(join(ROOT, "docs", "ingest.md"), "utf8");
  const section = doc.slice(doc.indexOf("### Adding sources"));
  const sql = /```sql\n([\s\S]*?)```/.exec(section)?.[1];
  if (!sql) throw new Error("docs/ingest.md has no sql block under ### Adding sources");
  return sql;
}

describe("docs/ingest.md source examples", () => {
  it("insert one source of every kind, each with a config its kind accepts", async () => {
    await client.query(examples());
    const { rows } = await client.query<{ kind: string; name: string; config: unknown }>(
      "select kind, name, config from ingest_sources order by id",
    );
    expect(rows.map((r) => r.kind).sort()).toEqual(["github_issues", "markdown_dir", "rss", "sitemap"]);
    // The github_issues example names GITHUB_TOKEN, which must be set on the worker.
    process.env.GITHUB_TOKEN ||= "example-token";
    for (const r of rows)
      expect(sourceKind(r.kind).parseConfig(r.config), r.name).toEqual(expect.objectContaining({ ok: true }));
  });
});
