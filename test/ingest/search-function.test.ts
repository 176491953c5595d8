// The `search` Edge Function's code in Deno, as the platform runs it (supabase/functions/search/index.ts,
// resolved through the import map), against its own database, one process per embedding configuration:
// - openai: a loopback OpenAI-compatible server embeds the query; the answer is hybrid over chunks the
//   worker's code indexed with the same provider and model;
// - none: nothing is embedded, BM25 ranks;
// - local: the function does not load the local model; it ranks by BM25 and says what to set.
// And every input the function accepts is validated: a 400 naming the field, never a 500 carrying the
// database's or the provider's text.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIndexer } from "../../functions/ingest/indexer.ts";
import { processAfterCrawl } from "../../functions/ingest/process.ts";
import type { SearchHit } from "../../functions/ingest/search.ts";
import { markdownDir } from "../../functions/ingest/sources/markdown-dir.ts";
import { toStagingRow, writeStaging } from "../../functions/ingest/staging.ts";
import { DENO_BIN, ROOT } from "../../scripts/stack/layout.ts";
import { dropDatabase, freshDatabase, pool } from "../support/db.ts";
import { uploadedFiles } from "../support/edge-upload.ts";
import { type FakeOpenAi, startFakeOpenAi } from "../support/ingest/fake-openai.ts";

const DB = "ingest_search_function_test";
const MODEL = "fake-embed";

interface Served {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

// Serves the function on a port of its own: Deno.serve(handler), which the function calls at load, is
// given the port. The repository's deno.json names the import map the deploy uses.
const SERVE = `
const port = Number(Deno.env.get("SEARCH_TEST_PORT"));
const serve = Deno.serve.bind(Deno);
Object.assign(Deno, {
  serve: (handler: (r: Request) => Response) =>
    serve({ hostname: "127.0.0.1", port, onListen: () => console.log("listening") }, handler),
});
await import(new URL("supabase/functions/search/index.ts", "file://" + Deno.cwd() + "/").href);
`;

async function serveSearch(env: Record<string, string>): Promise<Served> {
  const port = await freePort();
  const { DB_POOLER_URL: _pooler, SUPABASE_DB_URL: _db, ...inherited } = process.env;
  const proc: ChildProcess = spawn(DENO_BIN, ["eval", "--ext=ts", SERVE], {
    cwd: ROOT,
    env: { ...inherited, ...env, SEARCH_TEST_PORT: String(port), DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d) => {
    out += d;
  });
  proc.stderr!.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const deadline = Date.now() + 60_000;
  while (!out.includes("listening")) {
    if (proc.exitCode !== null || Date.now() > deadline)
      throw new Error(`search function did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}/`,
    output: () => out,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

let url: string;
let db: pg.Pool;
let openai: FakeOpenAi;
const served: Record<"openai" | "none" | "local", Served> = {} as never;

interface Answer {
  error?: string;
  mode?: string;
  model?: string | null;
  note?: string;
  results: SearchHit[];
}

async function search(
  fn: Served,
  body: unknown,
): Promise<{ status: number; text: string; json: () => Answer }> {
  const res = await fetch(fn.url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) };
}

beforeAll(async () => {
  url = await freshDatabase(DB);
  db = pool(url);
  openai = await startFakeOpenAi();
  const provider = {
    OPENAI_API_KEY: "test-key",
    OPENAI_BASE_URL: openai.baseUrl,
    OPENAI_EMBEDDING_MODEL: MODEL,
  };
  const starting = Promise.all([
    serveSearch({ DATABASE_URL: url, INGEST_EMBEDDINGS: "openai", ...provider }),
    serveSearch({ DATABASE_URL: url, INGEST_EMBEDDINGS: "none" }),
    serveSearch({ DATABASE_URL: url, INGEST_EMBEDDINGS: "local" }),
  ]);

  // The worker's side: the fixture corpus indexed through the same provider and model.
  const { rows } = await db.query(
    "insert into ingest_sources (name, kind) values ('docs', 'markdown_dir') returning id",
  );
  const parsed = markdownDir.parseConfig({ path: join(import.meta.dirname, "../fixtures/ingest/corpus") });
  if (!parsed.ok) throw new Error(parsed.error);
  const docs = await markdownDir.crawl(parsed.value);
  await db.query("insert into ingest_runs (id) values ('r1')");
  await writeStaging(
    db,
    docs.map((d) => toStagingRow("r1", Number(rows[0].id), "markdown_dir", d)),
  );
  const indexer = createIndexer({
    provider: "openai",
    batchSize: 64,
    apiKey: provider.OPENAI_API_KEY,
    baseUrl: openai.baseUrl,
    model: MODEL,
  });
  try {
    await processAfterCrawl("r1", { pool: db, indexer });
  } finally {
    await indexer.close();
  }
  [served.openai, served.none, served.local] = await starting;
}, 120_000);

afterAll(async () => {
  await Promise.all(Object.values(served).map((s) => s?.stop()));
  await openai?.close();
  await db?.end();
  await dropDatabase(DB);
});

describe("search Edge Function", () => {
  it("with INGEST_EMBEDDINGS=openai embeds the query with the hosted provider and answers hybrid, one result per page", async () => {
    const indexedWith = await db.query("select distinct model from chunks");
    expect(indexedWith.rows).toEqual([{ model: `openai:${MODEL}@512` }]);
    openai.requests.length = 0;
    const res = await search(served.openai, { query: "guest wireless network password", k: 5 });
    expect(res.status, res.text).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ mode: "hybrid", model: `openai:${MODEL}@512` });
    expect(body.note).toBeUndefined();
    expect(body.results[0]).toMatchObject({ source_path: "wifi.md", title: "Office Wi-Fi" });
    expect(body.results[0]!.similarity).toBeGreaterThan(0);
    expect(body.results[0]!.snippet).toMatch(/\*\*password\*\*/i);
    const pages = body.results.map((r) => r.document_id);
    expect(new Set(pages).size).toBe(pages.length);
    expect(openai.requests).toEqual([
      {
        authorization: "Bearer test-key",
        body: { model: MODEL, input: ["guest wireless network password"], dimensions: 512 },
      },
    ]);
  });

  it("with INGEST_EMBEDDINGS=none embeds nothing and ranks by BM25", async () => {
    openai.requests.length = 0;
    const res = await search(served.none, { query: "guest wireless network password", k: 3 });
    expect(res.status, res.text).toBe(200);
    expect(res.json()).toMatchObject({ mode: "text", model: null });
    expect(res.json().results[0]).toMatchObject({ source_path: "wifi.md", similarity: null });
    expect(openai.requests).toEqual([]);
  });

  it("with INGEST_EMBEDDINGS=local never loads the model: it ranks by BM25 and says what to set", async () => {
    const res = await search(served.local, { query: "guest wireless network password", k: 3 });
    expect(res.status, res.text).toBe(200);
    expect(res.json()).toMatchObject({
      mode: "text",
      model: null,
      note: expect.stringMatching(
        /set INGEST_EMBEDDINGS=none .* or INGEST_EMBEDDINGS=openai with OPENAI_API_KEY/,
      ),
    });
    expect(res.json().results[0]).toMatchObject({ source_path: "wifi.md" });
    // What the deploy uploads for the function holds no trace of the model or the threads that run it.
    const files = uploadedFiles("search").filter((f) => f.endsWith(".ts"));
    expect(files).toContain("functions/ingest/search-embedder.ts");
    for (const file of files) {
      expect(readFileSync(join(ROOT, file), "utf8"), file).not.toMatch(
        /@energetic-ai|local-model|index-thread/,
      );
    }
  });

  it("answers 400 naming the field for a source id past 2^53 or a NUL byte, never a 500 with the database's text", async () => {
    const tooBig = await search(served.openai, '{"query": "wifi", "source": 1e20}');
    expect(tooBig.status).toBe(400);
    expect(tooBig.json().error).toBe(
      "field 'source' must be a source id (an integer from 1 to 9007199254740991) or a source name (at most 200 characters, no NUL)",
    );
    const nulQuery = await search(served.openai, { query: "wifi\u0000password" });
    expect(nulQuery.status).toBe(400);
    expect(nulQuery.json().error).toBe("field 'query' must not contain NUL (\\u0000) characters");
    const nulSource = await search(served.none, { query: "wifi", source: "do\u0000cs" });
    expect(nulSource.status).toBe(400);
    const unknown = await search(served.none, { query: "wifi", source: "nosuch" });
    expect(unknown).toMatchObject({ status: 400, text: '{"error":"no source named \\"nosuch\\""}' });
    for (const r of [tooBig, nulQuery, nulSource, unknown]) {
      expect(r.text).not.toMatch(/bigint|byte sequence|out of range|syntax/);
    }
  });

  it("answers 502 without the provider's text when the provider refuses to embed the query", async () => {
    const res = await search(served.openai, { query: "provider-fails here" });
    expect(res.status).toBe(502);
    expect(res.json()).toEqual({
      error: "the query could not be embedded; try again (details in the function's log)",
    });
    expect(res.text).not.toMatch(/sk-test-secret|401/);
    expect(served.openai.output()).toMatch(/query embedding failed.*HTTP 401/);
  });
});
