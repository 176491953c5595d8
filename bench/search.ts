// Search latency and HNSW recall at scale: N synthetic chunks (default 100k) with clustered 512-d vectors
// and synthetic text in a database of their own; p50/p95 of the hybrid SQL function and of the pure
// vector query, and recall@10 of the HNSW index against an exact scan. `npm run bench:search [-- --rows N]`.
import pg from "pg";
import { databaseUrl, dropDatabase, freshDatabase } from "../test/support/db.ts";
import { report } from "./lib/report.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROWS = arg("rows", 100_000);
const QUERIES = arg("queries", 200);
const DB = "ingest_bench_search";

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
  await runQueries(db, reuse);
}

let loadS = 0;
let buildS = 0;

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
    create temp table words as
      select array['index','vector','search','chunk','latency','recall','garden','river','mountain','copper',
        'lantern','harbor','signal','orbit','meadow','falcon','cipher','ember','glacier','quartz','thunder',
        'willow','pepper','canyon','saddle','marble','violet','anchor','beacon','comet'] as w;
    insert into documents (id, source_id, source_path, source_type, title, content_hash, model, run_id)
      select d, 1, 'doc-' || d, 'markdown_dir', 'Synthetic document ' || d, md5(d::text), 'synthetic', 'bench'
      from generate_series(1, 1000) d;`);
  await db.query(
    `insert into chunks (document_id, chunk_index, heading_path, content, embedding, model)
     select 1 + (i % 1000), i / 1000, array['Section ' || (i % 7)],
       (select string_agg(w[1 + floor(random() * 30)::int], ' ') from words, generate_series(1, 40) g where i > 0),
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
}

async function runQueries(db: pg.Client, reused: boolean): Promise<void> {
  await db.query(
    "create temp table if not exists words as select array['index','vector','search','chunk','latency','recall','garden','river']::text[] as w",
  );
  // Queries: stored vectors plus noise (so they sit in a cluster without being a stored point), and two
  // random words for the full-text half.
  const { rows: qs } = await db.query(
    `select (select array_agg(x + ((random() - 0.5) * 0.5)::real) from unnest(c.embedding::real[]) x)::vector::text as v,
            (select w[1 + floor(random() * array_length(w, 1))::int] || ' ' || w[1 + floor(random() * array_length(w, 1))::int] from words) as t
       from chunks c where c.id % 997 = 0 limit $1`,
    [QUERIES],
  );
  const queries = qs.slice(0, QUERIES);
  const hybrid: number[] = [];
  const vectorOnly: number[] = [];
  let recallSum = 0;
  const RECALL_QUERIES = Math.min(100, queries.length);
  for (const [i, q] of queries.entries()) {
    let s = performance.now();
    await db.query("select * from search_chunks($1::extensions.vector, $2, 10, 'synthetic')", [q.v, q.t]);
    hybrid.push(performance.now() - s);
    await db.query("begin; set local hnsw.ef_search = 100");
    s = performance.now();
    const ann = await db.query(
      "select id from chunks order by embedding <=> $1::extensions.vector limit 10",
      [q.v],
    );
    vectorOnly.push(performance.now() - s);
    if (i < RECALL_QUERIES) {
      await db.query("set local enable_indexscan = off");
      const exact = await db.query(
        "select id from chunks order by embedding <=> $1::extensions.vector limit 10",
        [q.v],
      );
      const truth = new Set(exact.rows.map((r) => r.id));
      recallSum += ann.rows.filter((r) => truth.has(r.id)).length / 10;
    }
    await db.query("commit");
  }
  await db.end();
  await dropDatabase(DB);
  report(
    "search",
    `Search over ${ROWS.toLocaleString("en")} chunks (512-d, HNSW cosine)`,
    [
      { measure: "hybrid search_chunks() p50 (ms)", value: pct(hybrid, 50), target: "< 30" },
      { measure: "hybrid search_chunks() p95 (ms)", value: pct(hybrid, 95), target: "" },
      { measure: "vector-only HNSW top-10 p50 (ms)", value: pct(vectorOnly, 50), target: "" },
      { measure: "vector-only HNSW top-10 p95 (ms)", value: pct(vectorOnly, 95), target: "" },
      {
        measure: `recall@10 HNSW vs exact (${RECALL_QUERIES} queries, ef_search 100)`,
        value: recallSum / RECALL_QUERIES,
        target: ">= 0.95",
      },
      { measure: "load time (s)", value: reused ? "reused" : loadS, target: "" },
      { measure: "HNSW build time (s)", value: reused ? "reused" : buildS, target: "" },
    ],
    `${queries.length} queries, each a cluster centre plus noise with two random words for the full-text half. Synthetic vectors (100 clusters) stand in for embeddings; the SQL path is the one the search Edge Function calls. Query embedding time (local model, ~10 ms in Deno) is not included.`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
