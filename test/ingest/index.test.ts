// The index pass and retrieval against real Postgres + pgvector and the real local model: hit@5 over the
// fixture corpus, unchanged documents skipped, vanished documents removed, dedup by priority, a re-run on
// the same staging rows producing the same index, and staging deleted only after success.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEmbedder, type Embedder } from "../../functions/ingest/embeddings.ts";
import { processAfterCrawl } from "../../functions/ingest/process.ts";
import { searchChunks } from "../../functions/ingest/search-sql.ts";
import { markdownDir } from "../../functions/ingest/sources/markdown_dir.ts";
import { toStagingRow, writeStaging } from "../../functions/ingest/staging.ts";
import { dropDatabase, freshDatabase, pool } from "../support/db.ts";

const DB = "ingest_index_test";
const FIXTURES = join(import.meta.dirname, "fixtures");
const questions = JSON.parse(readFileSync(join(FIXTURES, "questions.json"), "utf8")) as {
  q: string;
  doc: string;
}[];

let db: pg.Pool;
let embedder: Embedder;
let docsSource: number;

async function stageCorpus(
  runId: string,
  sourceId: number,
  only?: (path: string) => boolean,
): Promise<number> {
  const parsed = markdownDir.parseConfig({ path: join(FIXTURES, "corpus") });
  if (!parsed.ok) throw new Error(parsed.error);
  const docs = (await markdownDir.crawl(parsed.value)).filter((d) => !only || only(d.path));
  await writeStaging(
    db,
    docs.map((d) => toStagingRow(runId, sourceId, "markdown_dir", d)),
  );
  // What the crawl records: this run's complete listing of the source.
  await db.query("insert into ingest_runs (id) values ($1) on conflict do nothing", [runId]);
  await db.query(
    "insert into ingest_run_sources (run_id, source_id, status, listing_complete) values ($1, $2, 'succeeded', true)",
    [runId, sourceId],
  );
  await db.query(
    `insert into ingest_items (source_id, item_key, listed_run_id) select $1, unnest($2::text[]), $3
     on conflict (source_id, item_key) do update set listed_run_id = excluded.listed_run_id`,
    [sourceId, docs.map((d) => d.path), runId],
  );
  await db.query("delete from ingest_items where source_id = $1 and listed_run_id <> $2", [sourceId, runId]);
  return docs.length;
}

async function indexSnapshot(): Promise<string[]> {
  const { rows } = await db.query(
    `select d.source_path, c.chunk_index, c.heading_path, md5(c.content) as h, md5(c.embedding::text) as e
       from chunks c join documents d on d.id = c.document_id order by 1, 2`,
  );
  return rows.map((r) => JSON.stringify(r));
}

beforeAll(async () => {
  db = pool(await freshDatabase(DB));
  embedder = createEmbedder({ provider: "local", batchSize: 32 });
  const { rows } = await db.query(
    "insert into ingest_sources (name, kind, config, priority) values ('docs', 'markdown_dir', '{}', 5), ('mirror', 'markdown_dir', '{}', 1) returning id",
  );
  docsSource = Number(rows[0].id);
});

afterAll(async () => {
  await db?.end();
  await dropDatabase(DB);
});

describe("processAfterCrawl and search", () => {
  it("indexes the corpus, deletes staging after success, and answers the fixed questions with hit@5 >= 0.8", async () => {
    const staged = await stageCorpus("r1", docsSource);
    const result = await processAfterCrawl("r1", { pool: db, embedder });
    expect(result).toMatchObject({ staged, indexed: staged, unchanged: 0, removed: 0 });
    expect((await db.query("select count(*)::int as n from ingest_staging")).rows[0].n).toBe(0);

    expect(questions.length).toBeGreaterThanOrEqual(20);
    let hits = 0;
    const misses: string[] = [];
    for (const { q, doc } of questions) {
      const [v] = await embedder.embed([q]);
      const results = await searchChunks(db, v!, { query: q, k: 5, source: undefined }, embedder.model);
      const found = results!.some((r) => r.source_path === doc);
      if (found) hits++;
      else misses.push(`${q} -> wanted ${doc}, got ${results!.map((r) => r.source_path).join(", ")}`);
    }
    const hitAt5 = hits / questions.length;
    console.log(
      `retrieval hit@5 = ${hitAt5.toFixed(3)} (${hits}/${questions.length})${misses.length ? `\nmisses:\n${misses.join("\n")}` : ""}`,
    );
    expect(hitAt5).toBeGreaterThanOrEqual(0.8);
  });

  it("skips unchanged documents, removes vanished ones, and converges to the same index when re-run", async () => {
    const before = await indexSnapshot();
    // Next run: one file gone from the listing, everything else unchanged.
    await stageCorpus("r2", docsSource, (p) => p !== "coffee.md");
    const staged = await db.query("select count(*)::int as n from ingest_staging where run_id = 'r2'");
    const first = await processAfterCrawl("r2", { pool: db, embedder });
    expect(first).toMatchObject({ indexed: 0, unchanged: staged.rows[0].n, removed: 1 });
    const after = await indexSnapshot();
    expect(after).toEqual(before.filter((r) => !r.includes('"coffee.md"')));

    // A crash after the index writes but before staging was deleted: re-running on the same rows
    // produces the same index.
    await stageCorpus("r3", docsSource, (p) => p !== "coffee.md");
    await db.query("update documents set content_hash = 'stale' where source_path = 'wifi.md'");
    await processAfterCrawl("r3", { pool: db, embedder });
    await stageCorpus("r4", docsSource, (p) => p !== "coffee.md");
    await db.query("update documents set content_hash = 'stale' where source_path = 'wifi.md'");
    const rerun = await processAfterCrawl("r4", { pool: db, embedder });
    expect(rerun.indexed).toBe(1);
    expect(await indexSnapshot()).toEqual(after);
  });

  it("keeps one copy of duplicated content, from the source with the higher priority", async () => {
    const { rows } = await db.query("select id from ingest_sources where name = 'mirror'");
    const mirror = Number(rows[0].id);
    await stageCorpus("r5", mirror, (p) => p === "parking.md");
    await db.query(
      "insert into ingest_run_sources (run_id, source_id, status, listing_complete) values ('r5', $1, 'succeeded', true)",
      [docsSource],
    );
    await stageCorpus("r5b", docsSource, (p) => p === "parking.md");
    await db.query("update ingest_staging set run_id = 'r5' where run_id = 'r5b'");
    await db.query(
      "update ingest_items set listed_run_id = 'r5' where source_id = $1 and item_key = 'parking.md'",
      [docsSource],
    );
    const result = await processAfterCrawl("r5", { pool: db, embedder });
    expect(result.duplicates).toBe(1);
    const owners = await db.query(
      "select s.name from documents d join ingest_sources s on s.id = d.source_id where d.source_path = 'parking.md'",
    );
    expect(owners.rows.map((r) => r.name)).toEqual(["docs"]);
  });
});
