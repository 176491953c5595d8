// Retrieval quality on a dev set of real text that no fixture holds (bench/retrieval/dev-set.json): the
// READMEs of 72 packages in node_modules, served as a documentation site on loopback, crawled through the
// sitemap source (HTML to text), indexed with the local model, then asked 116 questions written before any
// search ran, 45 of them reworded to share few words with their page. `npm run bench:retrieval`.
//
// Three rankings over the same index, through the one SQL function the search Edge Function calls:
// vector-only (the query's words withheld), BM25-only (no query vector) and hybrid. hit@5: the target page
// among the first 5 results (one result per page); MRR@10: the mean of 1 / its rank, 0 beyond 10.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { createIndexer } from "../functions/ingest/indexer.ts";
import { processAfterCrawl } from "../functions/ingest/process.ts";
import type { SearchHit } from "../functions/ingest/search.ts";
import { searchChunks } from "../functions/ingest/search-sql.ts";
import { sitemap } from "../functions/ingest/sources/sitemap.ts";
import { toStagingRow, writeStaging } from "../functions/ingest/staging.ts";
import { ROOT } from "../scripts/stack/layout.ts";
import { dropDatabase, freshDatabase } from "../test/support/db.ts";
import { report } from "./lib/report.ts";
import { startReadmeSite } from "./retrieval/readme-site.ts";

interface DevSet {
  pages: { package: string; version: string }[];
  questions: { q: string; page: string; kind: "lexical" | "reworded" }[];
}

const DB = "ingest_bench_retrieval";
const RUN = "retrieval";
// Every ranking setting run on this dev set, counting the one reported: (1) BM25 k1 1.2 / b 0.75, RRF k 60,
// 4k candidates a list, fusion on chunks before one result per page, title + headings + the page's opening
// paragraph in the embedded text, text candidates capped at 1000; (2) the same with the cap at 300 and two
// of the four rarest lexemes required when even the rarest is common (chosen for speed at 100k chunks,
// bench:search; run here to check it costs nothing). Nothing was tuned per question.
const SETTINGS_TRIED = 2;

type Mode = "vector" | "bm25" | "hybrid";
const MODES: Mode[] = ["vector", "bm25", "hybrid"];

function checkVersions(dev: DevSet): void {
  const drifted = dev.pages.filter(
    (p) =>
      JSON.parse(readFileSync(join(ROOT, "node_modules", p.package, "package.json"), "utf8")).version !==
      p.version,
  );
  if (drifted.length > 0) {
    throw new Error(
      `the dev set was written for other versions of ${drifted.map((p) => `${p.package}@${p.version}`).join(", ")}; its questions may no longer match those READMEs`,
    );
  }
}

async function main(): Promise<void> {
  const dev = JSON.parse(readFileSync(join(ROOT, "bench", "retrieval", "dev-set.json"), "utf8")) as DevSet;
  checkVersions(dev);
  // The site is on loopback, which the crawl refuses outside the local stack.
  process.env.LOCAL_MODE = "true";
  const site = await startReadmeSite(dev.pages.map((p) => p.package));
  const db = new pg.Pool({ connectionString: await freshDatabase(DB), max: 4 });
  const indexer = createIndexer({ provider: "local", batchSize: 64, threads: 2 });
  try {
    const { rows } = await db.query(
      "insert into ingest_sources (name, kind) values ('readmes', 'sitemap') returning id",
    );
    const parsed = sitemap.parseConfig({ url: `${site.url}/sitemap.xml`, max_items_per_run: 1000 });
    if (!parsed.ok) throw new Error(parsed.error);
    const items = await sitemap.list(parsed.value);
    const docs = await Promise.all(items.map((item) => sitemap.fetchItem(parsed.value, item)));
    await db.query("insert into ingest_runs (id) values ($1)", [RUN]);
    await writeStaging(
      db,
      docs.map((d, i) => toStagingRow(RUN, Number(rows[0].id), "sitemap", { ...d, path: items[i]!.key })),
    );
    const t0 = performance.now();
    const indexed = await processAfterCrawl(RUN, { pool: db, indexer });
    const indexS = (performance.now() - t0) / 1000;

    const ranks: Record<Mode, { kind: string; rank: number | undefined; q: string; got: string[] }[]> = {
      vector: [],
      bm25: [],
      hybrid: [],
    };
    const latency: Record<Mode, number[]> = { vector: [], bm25: [], hybrid: [] };
    for (const { q, page, kind } of dev.questions) {
      const [vector] = await indexer.embedder!.embed([q]);
      const ask: Record<Mode, () => Promise<SearchHit[] | null>> = {
        // The same function with no words to match: the vector half alone.
        vector: () => searchChunks(db, vector, { query: "", k: 10, source: undefined }, indexer.model),
        bm25: () => searchChunks(db, undefined, { query: q, k: 10, source: undefined }, undefined),
        hybrid: () => searchChunks(db, vector, { query: q, k: 10, source: undefined }, indexer.model),
      };
      for (const mode of MODES) {
        const s = performance.now();
        const hits = (await ask[mode]())!;
        latency[mode].push(performance.now() - s);
        const got = hits.map((h) => h.source_path.replace(/^\/pkg\//, ""));
        const at = got.indexOf(page);
        ranks[mode].push({ kind, rank: at < 0 ? undefined : at + 1, q, got });
      }
    }

    const table = [];
    for (const mode of MODES) {
      for (const kind of ["all", "lexical", "reworded"]) {
        const set = ranks[mode].filter((r) => kind === "all" || r.kind === kind);
        const hits = set.filter((r) => r.rank !== undefined && r.rank <= 5).length;
        table.push({
          ranking: mode === "bm25" ? "BM25 only" : mode === "vector" ? "vector only" : "hybrid (RRF)",
          questions: `${kind} (${set.length})`,
          "hit@5": hits / set.length,
          hits: `${hits}/${set.length}`,
          "MRR@10": set.reduce((a, r) => a + (r.rank ? 1 / r.rank : 0), 0) / set.length,
          "query p50 ms":
            kind === "all" ? [...latency[mode]].sort((a, b) => a - b)[latency[mode].length >> 1]! : "",
        });
      }
      const misses = ranks[mode].filter((r) => !r.rank || r.rank > 5);
      console.log(`\n${mode} misses (${misses.length}):`);
      for (const m of misses)
        console.log(`  [${m.kind}] ${m.q} -> rank ${m.rank ?? "-"}; got ${m.got.slice(0, 5).join(", ")}`);
    }
    const load = (await import("node:os")).loadavg()[0]!.toFixed(1);
    report(
      "retrieval",
      "Retrieval on a dev set of real documentation (hit@5, MRR@10)",
      table,
      `${dev.pages.length} package READMEs from node_modules (versions pinned in bench/retrieval/dev-set.json), served as HTML on loopback and crawled through the sitemap source: ${indexed.indexed} pages, ${indexed.chunks} chunks, indexed with the local model (USE-lite, 2 threads) in ${indexS.toFixed(1)} s. ${dev.questions.length} questions, one target page each, written from the pages before any search ran over them; ${dev.questions.filter((q) => q.kind === "reworded").length} were worded to share few words with their page. One result per page; vector only withholds the question's words from the same SQL function, BM25 only withholds the vector. Settings run on this set: ${SETTINGS_TRIED} (BM25 k1 1.2, b 0.75; RRF k 60; 4k candidates a list; fused on chunks, then one result per page; title, headings and the page's opening paragraph in the embedded text; text candidates capped at 1000, then at 300 for speed at scale, which changed no result here), both textbook, nothing tuned per question. Query latency is the SQL call only (embedding the query is extra), one client, on a 2-core machine shared with other engineers' tests (load average ${load} at the end).`,
    );
  } finally {
    await indexer.close();
    await db.end();
    await site.close();
    await dropDatabase(DB);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
