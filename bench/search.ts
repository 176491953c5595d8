// Search latency and HNSW recall at scale: N synthetic chunks (default 100k) with clustered 512-d vectors
// and synthetic text in a database of their own; p50/p95 of search_chunks hybrid and BM25-only, side by
// side with the function as it was before BM25 (bench/lib/search-before.sql) on the same queries, of the
// pure vector query, and recall@10 of the HNSW index against an exact scan. `npm run bench:search
// [-- --rows N]`; `--keep` leaves the database in place, `--reuse` measures a kept corpus again without
// reloading it.
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { ROOT } from "../scripts/stack/layout.ts";
import { databaseUrl, dropDatabase, freshDatabase } from "../test/support/db.ts";
import { report } from "./lib/report.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROWS = arg("rows", 100_000);
const QUERIES = arg("queries", 200);
const DB = "ingest_bench_search";
// The hnsw.ef_search that search_chunks() sets; the vector-only query and recall use the same.
const EF_SEARCH = 200;
// Synthetic text: WORDS_PER_CHUNK tokens a chunk (about the chunker's 1000-character bound), drawn from a
// Zipf-distributed vocabulary of stop words plus CONTENT_WORDS content words.
const WORDS_PER_CHUNK = 120;
const CONTENT_WORDS = 5000;
// The 60 most frequent English words, all stop words of the 'english' configuration (dropped by to_tsvector
// as in real text), take the first ranks; generated content words (three CV syllables, one lexeme each
// after stemming) the rest.
const STOP = (
  "the of and to a in is it that for on was with as be at by this have from " +
  "or an are not but all were they we which their there been has can will had if more when " +
  "so what no out up into than them its only other some then these do about any our who should"
).split(" ");
const STOP_WORDS = STOP.length;
const SYLLABLES = "ka lo mi ru ta zo pa ni du va bu fo gi ju xa ho wu yi ca so".split(" ");
const sqlArray = (xs: string[]) => `array[${xs.map((x) => `'${x}'`).join(",")}]::text[]`;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function main(): Promise<void> {
  // --reuse keeps a corpus loaded by an earlier run (loading 100k rows takes minutes on 2 cores).
  const reuse = process.argv.includes("--reuse");
  const url = reuse ? databaseUrl(DB) : await freshDatabase(DB);
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  await db.query("set search_path = public, extensions");
  if (!reuse) await load(db);
  await db.query(readFileSync(join(ROOT, "bench/lib/search-before.sql"), "utf8"));
  await runQueries(db, reuse);
}

let loadS = 0;
let buildS = 0;
let statsS = 0;

async function load(db: pg.Client): Promise<void> {
  const t0 = performance.now();
  // Clustered vectors (100 centroids + noise) look more like real embeddings than uniform noise, which
  // no ANN index handles well and no corpus produces.
  await db.query(`
    set maintenance_work_mem = '1GB';
    drop index if exists chunks_embedding_hnsw;
    insert into ingest_sources (id, name, kind) values (1, 'synthetic', 'markdown_dir');
    create temp table centroids as
      select c as id, array(select (random() - 0.5)::real from generate_series(1, 512) where c > 0) as v
      from generate_series(1, 100) c;
    -- Vocabulary: the 60 most frequent English words (stop words, dropped by to_tsvector as in real text)
    -- followed by ${CONTENT_WORDS} generated content words (CV syllables: one lexeme each after stemming).
    create table bench_vocab as
      select array_cat(${sqlArray(STOP)},
        array(
          select s[1 + n % 20] || s[1 + (n / 20) % 20] || s[1 + (n / 400) % 20]
          from (select ${sqlArray(SYLLABLES)} as s) syl, generate_series(0, ${CONTENT_WORDS - 1}) n
          order by n)) as w;
    insert into documents (id, source_id, source_path, source_type, title, content_hash, model, run_id)
      select d, 1, 'doc-' || d, 'markdown_dir', 'Synthetic document ' || d, md5(d::text), 'synthetic', 'bench'
      from generate_series(1, 1000) d;`);
  await db.query(
    `insert into chunks (document_id, chunk_index, heading_path, content, embedding, model)
     select 1 + (i % 1000), i / 1000, array['Section ' || (i % 7)],
       -- Zipf (s = 1) token ranks: floor(exp(u * ln(V + 1))) has P(rank k) = ln((k+1)/k) / ln(V+1) ~ 1/k.
       -- The word is computed from its rank (the same mapping as bench_vocab): indexing a 5060-element
       -- text array per token made the load take half an hour.
       (select string_agg(case when r <= ${STOP_WORDS} then (${sqlArray(STOP)})[r]
                 else (${sqlArray(SYLLABLES)})[1 + (r - ${STOP_WORDS + 1}) % 20]
                   || (${sqlArray(SYLLABLES)})[1 + (r - ${STOP_WORDS + 1}) / 20 % 20]
                   || (${sqlArray(SYLLABLES)})[1 + (r - ${STOP_WORDS + 1}) / 400 % 20] end, ' ')
          from (select floor(exp(random() * ln(${STOP_WORDS + CONTENT_WORDS + 1})))::int as r
                  from generate_series(1, ${WORDS_PER_CHUNK}) g where i > 0) t),
       (select array_agg(c.v[j] + ((random() - 0.5) * 0.5)::real order by j)
          from centroids c, generate_series(1, 512) j where c.id = 1 + (i * 7919) % 100)::extensions.vector,
       'synthetic'
     from generate_series(1, $1::int) i`,
    [ROWS],
  );
  loadS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await db.query(
    "create index chunks_embedding_hnsw on chunks using hnsw (embedding extensions.vector_cosine_ops)",
  );
  await db.query("analyze chunks");
  buildS = (performance.now() - t1) / 1000;
  // What every index pass ends with: BM25's collection statistics over the whole corpus.
  const t2 = performance.now();
  await db.query("select public.refresh_search_stats()");
  statsS = (performance.now() - t2) / 1000;
}

// A query's words: `n` content words drawn from the corpus's own Zipf distribution (stop words excluded, as
// a user's keywords would be), log-uniform ranks between the first content word and the last.
const drawWords = (n: number) =>
  Array.from(
    { length: n },
    () => `w[floor(exp(ln($2 + 1.0) + random() * (ln(array_length(w, 1) + 1.0) - ln($2 + 1.0))))::int]`,
  ).join(" || ' ' || ");

async function runQueries(db: pg.Client, reused: boolean): Promise<void> {
  // Queries: stored vectors plus noise (so they sit in a cluster without being a stored point), with two
  // content words (keywords) and with six (a question's worth) for the text half.
  const { rows: qs } = await db.query(
    `select (select array_agg(x + ((random() - 0.5) * 0.5)::real) from unnest(c.embedding::real[]) x)::vector::text as v,
            (select ${drawWords(2)} from bench_vocab where c.id > 0) as t2,
            (select ${drawWords(6)} from bench_vocab where c.id > 0) as t6
       from chunks c where c.id % 491 = 0 limit $1`,
    [QUERIES, STOP_WORDS],
  );
  const queries = qs.slice(0, QUERIES);
  const timed = {
    before2: [] as number[],
    hybrid2: [] as number[],
    bm25_2: [] as number[],
    before6: [] as number[],
    hybrid6: [] as number[],
    bm25_6: [] as number[],
  };
  const vectorOnly: number[] = [];
  const matches: number[] = [];
  let recallSum = 0;
  const time = async (into: number[], sql: string, params: unknown[]) => {
    const s = performance.now();
    await db.query(sql, params);
    into.push(performance.now() - s);
  };
  const BEFORE = "select * from bench_search_chunks_before($1::extensions.vector, $2, 10, 'synthetic')";
  const HYBRID = "select * from search_chunks($1::extensions.vector, $2, 10, 'synthetic')";
  const BM25 = "select * from search_chunks(null, $1, 10)";
  for (const [i, q] of queries.entries()) {
    // Interleaved, so load on the shared machine hits the functions alike, in an order that rotates: the
    // first call of a query reads its blocks into the cache for the others, so each goes first a third
    // of the time.
    const calls = [
      () => time(timed.before2, BEFORE, [q.v, q.t2]),
      () => time(timed.hybrid2, HYBRID, [q.v, q.t2]),
      () => time(timed.bm25_2, BM25, [q.t2]),
    ];
    const calls6 = [
      () => time(timed.before6, BEFORE, [q.v, q.t6]),
      () => time(timed.hybrid6, HYBRID, [q.v, q.t6]),
      () => time(timed.bm25_6, BM25, [q.t6]),
    ];
    for (const group of [calls, calls6]) {
      for (let j = 0; j < group.length; j++) await group[(i + j) % group.length]!();
    }
    // How many chunks hold any of the six words (untimed): the BM25 candidates come from the rarest.
    const m = await db.query(
      "select count(*)::int as n from chunks where fts @@ public.ingest_any_lexeme(tsvector_to_array(to_tsvector('english', $1)))",
      [q.t6],
    );
    matches.push(m.rows[0].n);
    await db.query(`begin; set local hnsw.ef_search = ${EF_SEARCH}`);
    const s = performance.now();
    const ann = await db.query(
      "select id from chunks order by embedding <=> $1::extensions.vector limit 10",
      [q.v],
    );
    vectorOnly.push(performance.now() - s);
    await db.query("set local enable_indexscan = off");
    const exact = await db.query(
      "select id from chunks order by embedding <=> $1::extensions.vector limit 10",
      [q.v],
    );
    const truth = new Set(exact.rows.map((r) => r.id));
    recallSum += ann.rows.filter((r) => truth.has(r.id)).length / 10;
    await db.query("commit");
  }
  await db.end();
  // --keep leaves the corpus for a later --reuse run (or for EXPLAIN ANALYZE by hand).
  if (!process.argv.includes("--keep")) await dropDatabase(DB);
  const row = (label: string, xs: number[], targets = ["", ""]) => [
    { measure: `${label} p50 (ms)`, value: pct(xs, 50), target: targets[0]! },
    { measure: `${label} p95 (ms)`, value: pct(xs, 95), target: targets[1]! },
  ];
  report(
    "search",
    `Search over ${ROWS.toLocaleString("en")} chunks (512-d, HNSW cosine; BM25)`,
    [
      ...row("2 words: before (full-text AND + vectors, per chunk)", timed.before2),
      ...row("2 words: hybrid search_chunks()", timed.hybrid2, ["< 30", "< 80"]),
      ...row("2 words: BM25-only search_chunks()", timed.bm25_2, ["< 30", ""]),
      ...row("6 words: before (full-text AND + vectors, per chunk)", timed.before6),
      ...row("6 words: hybrid search_chunks()", timed.hybrid6, ["< 30", "< 80"]),
      ...row("6 words: BM25-only search_chunks()", timed.bm25_6, ["< 30", ""]),
      ...row("vector-only HNSW top-10", vectorOnly),
      {
        measure: `recall@10 HNSW vs exact (${queries.length} queries, ef_search ${EF_SEARCH})`,
        value: recallSum / queries.length,
        target: ">= 0.95",
      },
      { measure: "chunks holding any of 6 words, p50", value: pct(matches, 50), target: "" },
      { measure: "chunks holding any of 6 words, p95", value: pct(matches, 95), target: "" },
      { measure: "BM25 statistics refresh (s)", value: reused ? "reused" : statsS, target: "" },
      { measure: "load time (s)", value: reused ? "reused" : loadS, target: "" },
      { measure: "HNSW build time (s)", value: reused ? "reused" : buildS, target: "" },
    ],
    `${queries.length} queries, each a stored vector plus noise, with 2 or 6 content words for the text half drawn from the corpus's Zipf distribution (stop words excluded). Synthetic text: ${WORDS_PER_CHUNK} tokens a chunk drawn Zipf (s = 1) from ${STOP_WORDS} English stop words plus ${CONTENT_WORDS.toLocaleString("en")} generated content words. Synthetic vectors (100 clusters) stand in for embeddings; the SQL path is the one the search Edge Function calls, and today's answers one result per page with a snippet (ts_headline) where the function before answered chunks without one. "Before" is that function (bench/lib/search-before.sql), timed interleaved with today's on the same queries, the order rotating so that each function reads a query's blocks first a third of the time. Query embedding time is not included. Latencies are one client, sequential, on a 2-core machine shared with other engineers' tests (load average ${loadavg()[0]!.toFixed(1)} at the end).`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
