// The index pass and retrieval against real Postgres + pgvector and the real local model (in its threads):
// hit@5 over the fixture corpus in hybrid and text-only search, one result per page with a marked snippet,
// progress on the run row, unchanged documents skipped, vanished documents removed, dedup by priority, a
// re-run on the same staging rows producing the same index, staging deleted only after success, text-only
// indexing without vectors, and the per-page chunk cap stated in the run's errors.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIndexer, type Indexer } from "../../functions/ingest/indexer.ts";
import { processAfterCrawl } from "../../functions/ingest/process.ts";
import { searchChunks } from "../../functions/ingest/search-sql.ts";
import { markdownDir } from "../../functions/ingest/sources/markdown-dir.ts";
import { toStagingRow, writeStaging } from "../../functions/ingest/staging.ts";
import { dropDatabase, freshDatabase, pool } from "../support/db.ts";

const DB = "ingest_index_test";
const FIXTURES = join(import.meta.dirname, "../fixtures/ingest");
const questions = JSON.parse(readFileSync(join(FIXTURES, "questions.json"), "utf8")) as {
  q: string;
  doc: string;
}[];

let db: pg.Pool;
let indexer: Indexer;
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

interface IndexedChunk {
  key: string;
  embedding: number[];
}

async function indexSnapshot(): Promise<IndexedChunk[]> {
  const { rows } = await db.query(
    `select d.source_path, c.chunk_index, c.heading_path, md5(c.content) as h, c.embedding::real[] as e
       from chunks c join documents d on d.id = c.document_id order by 1, 2`,
  );
  return rows.map(({ e, ...r }) => ({ key: JSON.stringify(r), embedding: e }));
}

// Vectors are equal up to 1e-6: the model's float sums depend on the shape of the batch a text is
// embedded in (alone or with others differs by ~1e-7), and a re-run batches differently.
function expectSameIndex(actual: IndexedChunk[], expected: IndexedChunk[]): void {
  expect(actual.map((c) => c.key)).toEqual(expected.map((c) => c.key));
  actual.forEach((c, i) => {
    const drift = Math.max(...c.embedding.map((x, j) => Math.abs(x - expected[i]!.embedding[j]!)));
    expect(drift, c.key).toBeLessThan(1e-6);
  });
}

beforeAll(async () => {
  db = pool(await freshDatabase(DB));
  indexer = createIndexer({ provider: "local", batchSize: 32, threads: 2 });
  const { rows } = await db.query(
    "insert into ingest_sources (name, kind, config, priority) values ('docs', 'markdown_dir', '{}', 5), ('mirror', 'markdown_dir', '{}', 1) returning id",
  );
  docsSource = Number(rows[0].id);
});

afterAll(async () => {
  await indexer?.close();
  await db?.end();
  await dropDatabase(DB);
});

describe("processAfterCrawl and search", () => {
  it("indexes the corpus, deletes staging after success, and answers the fixed questions with hit@5 >= 0.8, one result per page, hybrid and text-only", async () => {
    const staged = await stageCorpus("r1", docsSource);
    const result = await processAfterCrawl("r1", { pool: db, indexer });
    expect(result).toMatchObject({ staged, indexed: staged, unchanged: 0, removed: 0, truncated: 0 });
    expect((await db.query("select count(*)::int as n from ingest_staging")).rows[0].n).toBe(0);
    const run = await db.query("select chunks_total, chunks_done from ingest_runs where id = 'r1'");
    expect(run.rows[0]).toEqual({ chunks_total: result.chunks, chunks_done: result.chunks });

    expect(questions.length).toBeGreaterThanOrEqual(20);
    for (const mode of ["hybrid", "text"] as const) {
      let hits = 0;
      const misses: string[] = [];
      for (const { q, doc } of questions) {
        const [v] = mode === "hybrid" ? await indexer.embedder!.embed([q]) : [undefined];
        const results = (await searchChunks(db, v, { query: q, k: 5, source: undefined }, indexer.model))!;
        expect(new Set(results.map((r) => r.document_id)).size, "one result per page").toBe(results.length);
        const found = results.some((r) => r.source_path === doc);
        if (found) hits++;
        else misses.push(`${q} -> wanted ${doc}, got ${results.map((r) => r.source_path).join(", ")}`);
      }
      const hitAt5 = hits / questions.length;
      console.log(
        `${mode} hit@5 = ${hitAt5.toFixed(3)} (${hits}/${questions.length})${misses.length ? `\nmisses:\n${misses.join("\n")}` : ""}`,
      );
      expect(hitAt5, mode).toBeGreaterThanOrEqual(0.8);
    }

    const [best] = (await searchChunks(
      db,
      undefined,
      { query: "guest wifi password", k: 3, source: undefined },
      undefined,
    ))!;
    expect(best).toMatchObject({ source_path: "wifi.md", title: "Office Wi-Fi", similarity: null });
    expect(best!.snippet).toMatch(/\*\*(password|Wi-Fi|guest)\*\*/i);
    expect(best!.bm25).toBeGreaterThan(0);
  });

  it("skips unchanged documents, removes vanished ones, and converges to the same index when re-run", async () => {
    const before = await indexSnapshot();
    // Next run: one file gone from the listing, everything else unchanged.
    await stageCorpus("r2", docsSource, (p) => p !== "coffee.md");
    const staged = await db.query("select count(*)::int as n from ingest_staging where run_id = 'r2'");
    const first = await processAfterCrawl("r2", { pool: db, indexer });
    expect(first).toMatchObject({ indexed: 0, unchanged: staged.rows[0].n, removed: 1 });
    const after = await indexSnapshot();
    expectSameIndex(
      after,
      before.filter((c) => !c.key.includes('"coffee.md"')),
    );

    // A crash after the index writes but before staging was deleted: re-running on the same rows
    // produces the same index.
    await stageCorpus("r3", docsSource, (p) => p !== "coffee.md");
    await db.query("update documents set content_hash = 'stale' where source_path = 'wifi.md'");
    await processAfterCrawl("r3", { pool: db, indexer });
    await stageCorpus("r4", docsSource, (p) => p !== "coffee.md");
    await db.query("update documents set content_hash = 'stale' where source_path = 'wifi.md'");
    const rerun = await processAfterCrawl("r4", { pool: db, indexer });
    expect(rerun.indexed).toBe(1);
    expectSameIndex(await indexSnapshot(), after);
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
    const result = await processAfterCrawl("r5", { pool: db, indexer });
    expect(result.duplicates).toBe(1);
    const owners = await db.query(
      "select s.name from documents d join ingest_sources s on s.id = d.source_id where d.source_path = 'parking.md'",
    );
    expect(owners.rows.map((r) => r.name)).toEqual(["docs"]);
  });
  it("indexes without vectors in text-only mode (INGEST_EMBEDDINGS=none) and searches those pages by BM25", async () => {
    const textOnly = createIndexer({ provider: "none" });
    try {
      const { rows } = await db.query(
        "insert into ingest_sources (name, kind, config) values ('text-only', 'markdown_dir', '{}') returning id",
      );
      const source = Number(rows[0].id);
      await stageCorpus("r6", source, (p) => p === "vpn.md" || p === "laptop.md");
      const result = await processAfterCrawl("r6", { pool: db, indexer: textOnly });
      expect(result).toMatchObject({ indexed: 2 });
      const chunks = await db.query(
        `select count(*)::int as n, count(c.embedding)::int as with_vectors, min(c.model) as model
           from chunks c join documents d on d.id = c.document_id where d.source_id = $1`,
        [source],
      );
      expect(chunks.rows[0]).toEqual({ n: result.chunks, with_vectors: 0, model: "text-only" });
      const hits = (await searchChunks(
        db,
        undefined,
        { query: "how often do we get a new laptop", k: 3, source },
        undefined,
      ))!;
      expect(hits[0]).toMatchObject({ source_path: "laptop.md", similarity: null });
    } finally {
      await textOnly.close();
    }
  });

  it("marks the question's words in a snippet with `**` that the page's own markdown cannot fake", async () => {
    const { rows } = await db.query(
      `with s as (insert into ingest_sources (name, kind, config) values ('snippets', 'markdown_dir', '{}') returning id),
            d as (insert into documents (source_id, source_path, source_type, title, content_hash, model, run_id)
                  select id, 'bold.md', 'markdown_dir', 'Bold', 'h', 'text-only', 'r-snip' from s returning id, source_id)
       insert into chunks (document_id, chunk_index, heading_path, content, model)
         select id, 0, '{}', 'The **zanzibar** switch is bold here, a\\b is a path, and the quokka** setting is not.', 'text-only' from d
       returning (select source_id from d) as source`,
    );
    await db.query("select public.refresh_search_stats()");
    const [hit] = (await searchChunks(
      db,
      undefined,
      { query: "quokka setting", k: 1, source: Number(rows[0].source) },
      undefined,
    ))!;
    // The page's asterisks and backslash come back escaped; unescaped `**` pairs mark only the question's words.
    expect(hit!.snippet).toContain("zanzibar\\*\\* switch");
    expect(hit!.snippet).toContain("a\\\\b");
    const marked = [...hit!.snippet.matchAll(/(?<!\\)\*\*([^*]+?)(?<!\\)\*\*/g)].map((m) => m[1]);
    expect(marked).toEqual(["quokka", "setting"]);
    expect(hit!.snippet).toContain("**quokka**\\*\\*");
  });

  it("indexes a page only up to the per-page chunk cap and says so in the run's errors", async () => {
    const capped = createIndexer({ provider: "none" }, { maxChunksPerPage: 2 });
    try {
      const { rows } = await db.query(
        "insert into ingest_sources (name, kind, config) values ('capped', 'markdown_dir', '{}') returning id",
      );
      const source = Number(rows[0].id);
      await db.query("insert into ingest_runs (id) values ('r7')");
      const long = Array.from(
        { length: 8 },
        (_, i) => `## Part ${i}\n${`A sentence about part ${i}. `.repeat(30)}`,
      );
      await writeStaging(db, [
        toStagingRow("r7", source, "markdown_dir", {
          path: "long.md",
          url: null,
          title: "Long",
          content: long.join("\n\n"),
          metadata: {},
        }),
      ]);
      const result = await processAfterCrawl("r7", { pool: db, indexer: capped });
      expect(result).toMatchObject({ indexed: 1, chunks: 2, truncated: 1 });
      const errors = await db.query("select item_key, error from ingest_item_errors where run_id = 'r7'");
      expect(errors.rows).toEqual([
        {
          item_key: "long.md",
          error: "indexed only the first 2 of its 8 chunks (INGEST_MAX_CHUNKS_PER_PAGE is 2)",
        },
      ]);
      const run = await db.query(
        "select documents_truncated, chunks_total, chunks_done from ingest_runs where id = 'r7'",
      );
      expect(run.rows[0]).toEqual({ documents_truncated: 1, chunks_total: 2, chunks_done: 2 });
    } finally {
      await capped.close();
    }
  });
  it("after a pass that failed midway, the re-run skips the windows the failed pass committed", async () => {
    const threads = createIndexer({ provider: "none" });
    let calls = 0;
    // Vectors of a model of its own, the second embedding call failing like a crashed worker.
    const flaky: Indexer = {
      ...threads,
      model: "flaky@512",
      embedder: {
        model: "flaky@512",
        async embed(texts) {
          if (++calls === 2) throw new Error("worker died");
          return texts.map(() => Array.from({ length: 512 }, () => 0.1));
        },
      },
    };
    try {
      const { rows } = await db.query(
        "insert into ingest_sources (name, kind, config) values ('resumed', 'markdown_dir', '{}') returning id",
      );
      const source = Number(rows[0].id);
      const staged = await stageCorpus("r8", source);
      await expect(processAfterCrawl("r8", { pool: db, indexer: flaky, windowDocs: 4 })).rejects.toThrow(
        "worker died",
      );
      const written = await db.query(
        "select count(*)::int as n from documents where source_id = $1 and model = 'flaky@512'",
        [source],
      );
      expect(written.rows[0].n).toBeGreaterThan(0);
      expect(written.rows[0].n).toBeLessThan(staged);
      // Staging is still there, so the run's index pass runs again on the same rows.
      const rerun = await processAfterCrawl("r8", { pool: db, indexer: flaky, windowDocs: 4 });
      expect(rerun).toMatchObject({ unchanged: written.rows[0].n, indexed: staged - written.rows[0].n });
      const all = await db.query(
        "select count(*)::int as n from documents where source_id = $1 and model = 'flaky@512'",
        [source],
      );
      expect(all.rows[0].n).toBe(staged);
    } finally {
      await threads.close();
    }
  });
});
