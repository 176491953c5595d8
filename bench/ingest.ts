// Index throughput: chunks embedded and indexed per second by processAfterCrawl with the local model, over
// N staged markdown documents (the fixture corpus, repeated with distinct numbering) in a database of their
// own. `npm run bench:ingest [-- --docs N]`.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { createEmbedder } from "../functions/ingest/embeddings.ts";
import { processAfterCrawl } from "../functions/ingest/process.ts";
import { toStagingRow, writeStaging } from "../functions/ingest/staging.ts";
import { ROOT } from "../scripts/stack/layout.ts";
import { dropDatabase, freshDatabase } from "../test/support/db.ts";
import { report } from "./lib/report.ts";

const i = process.argv.indexOf("--docs");
const DOCS = i > 0 ? Number(process.argv[i + 1]) : 300;
const DB = "ingest_bench_index";

async function main(): Promise<void> {
  const dir = join(ROOT, "test", "ingest", "fixtures", "corpus");
  const corpus = readdirSync(dir).map((f) => readFileSync(join(dir, f), "utf8"));
  const url = await freshDatabase(DB);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const { rows } = await pool.query(
    "insert into ingest_sources (name, kind) values ('bench', 'markdown_dir') returning id",
  );
  const sourceId = Number(rows[0].id);
  const docs = Array.from({ length: DOCS }, (_, n) => ({
    path: `doc-${n}.md`,
    url: null,
    title: `Doc ${n}`,
    content: `${corpus[n % corpus.length]}\n\n## Revision ${n}\nThis is revision ${n} of the handbook page.`,
    metadata: {},
  }));
  const t0 = performance.now();
  await writeStaging(
    pool,
    docs.map((d) => toStagingRow("bench", sourceId, "markdown_dir", d)),
  );
  const stageS = (performance.now() - t0) / 1000;

  const embedder = createEmbedder({ provider: "local", batchSize: 64 });
  await embedder.embed(["warm up the model"]);
  const t1 = performance.now();
  const first = await processAfterCrawl("bench", { pool, embedder });
  const indexS = (performance.now() - t1) / 1000;

  await writeStaging(
    pool,
    docs.map((d) => toStagingRow("bench2", sourceId, "markdown_dir", d)),
  );
  const t2 = performance.now();
  const second = await processAfterCrawl("bench2", { pool, embedder });
  const unchangedS = (performance.now() - t2) / 1000;

  await pool.end();
  await dropDatabase(DB);
  report(
    "ingest",
    `Index pass (processAfterCrawl, local USE-lite model) over ${DOCS} documents`,
    [
      { measure: "documents", value: first.indexed },
      { measure: "chunks embedded + indexed", value: first.chunks },
      { measure: "chunks per second (embed + upsert + HNSW)", value: first.chunks / indexS },
      { measure: "index pass (s)", value: indexS },
      { measure: "staging write (docs/s)", value: DOCS / stageS },
      { measure: "re-run, all unchanged (s)", value: unchangedS },
      { measure: "re-run documents skipped", value: second.unchanged },
    ],
    "One Node process on one core for the model; batch size 64. The re-run shows the cost of a night where nothing changed.",
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
