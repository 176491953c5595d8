// Sources that go wrong in ways an operator or a website can cause: deleted while a run crawls them,
// serving binary files among their pages, answering errors in binary. Each is recorded against its source
// or item (Postgres text cannot hold the NUL such bytes decode to), and the run still finishes with
// everything else indexed.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Resonate } from "@resonatehq/sdk";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createResonate, toWorkers } from "../../functions/shared/resonate-client.ts";
import { dropDatabase, freshDatabase, pool } from "../support/db.ts";
import { eventually, type LoopbackServer, startLoopbackServer } from "../support/http-server.ts";
import { startWorker, type WorkerProcess } from "../support/worker.ts";

const DB = "ingest_hostile_sources_test";
const GROUP = `ingest-hostile-${process.pid}`;
// Bytes a PNG starts with: NULs among them, as in every binary file.
const PNG = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52,
]);

// Longer than a btree key may be, and random, so that compression cannot shorten it.
const LONG_QUERY = randomBytes(3000).toString("hex");

let db: pg.Pool;
let server: LoopbackServer;
let client: Resonate;
let worker: WorkerProcess;
let releaseListing: () => void;
/** The folder a markdown_dir source reads: the worker's INGEST_FILE_ROOT. */
const notes = mkdtempSync(join(tmpdir(), "ingest-hostile-notes-"));
const listingHeld = new Promise<void>((r) => {
  releaseListing = r;
});

const sitemap = (...pages: string[]) =>
  `<?xml version="1.0"?><urlset>${pages.map((p) => `<url><loc>${server.url}/${p}</loc></url>`).join("")}</urlset>`;

beforeAll(async () => {
  const url = await freshDatabase(DB);
  db = pool(url);
  server = await startLoopbackServer(async (req, res) => {
    if (req.url === "/kept.xml") return void res.end(sitemap("kept"));
    if (req.url === "/gone.xml") {
      await listingHeld;
      return void res.end(sitemap("gone"));
    }
    if (req.url === "/mixed.xml") return void res.end(sitemap("one", "logo.png", "two"));
    if (req.url === "/long.xml") return void res.end(sitemap("three", `four?${LONG_QUERY}`));
    if (req.url === "/logo.png" || req.url === "/broken.xml") {
      res.writeHead(req.url === "/logo.png" ? 200 : 500, { "content-type": "image/png" });
      return void res.end(PNG);
    }
    res.setHeader("content-type", "text/html");
    res.end(
      `<html><head><title>${req.url}</title></head><body><p>The page ${req.url} about widgets.</p></body></html>`,
    );
  });
  worker = startWorker({
    DATABASE_URL: url,
    RESONATE_GROUP: GROUP,
    RESONATE_TTL_MS: "5000",
    RESONATE_TICK_MS: "100",
    INGEST_EMBEDDINGS: "none",
    INGEST_FILE_ROOT: notes,
  });
  client = createResonate({
    databaseUrl: url,
    resonate: { serverUrl: undefined, group: `${GROUP}-client`, ttlMs: 3000, tickMs: 100 },
    group: `${GROUP}-client`,
  });
});

afterAll(async () => {
  releaseListing();
  await worker?.kill("SIGKILL");
  await client?.stop();
  await db?.end();
  await server?.close();
  await dropDatabase(DB);
  rmSync(notes, { recursive: true, force: true });
});

/** Only these sources are enabled for the next run. */
async function sources(rows: [name: string, path: string][]): Promise<void> {
  await db.query("update ingest_sources set enabled = false");
  for (const [name, path] of rows) {
    await db.query("insert into ingest_sources (name, kind, config) values ($1, 'sitemap', $2)", [
      name,
      { url: `${server.url}/${path}`, timeout_ms: 30_000, concurrency: 1 },
    ]);
  }
}

async function crawl(runId: string, whileRunning?: () => Promise<void>) {
  await client.beginRpc(`ingest/${runId}`, "crawlCorpus", runId, true, toWorkers(client, GROUP));
  await whileRunning?.();
  return eventually(
    `run ${runId} to finish`,
    async () => {
      const { rows } = await db.query("select * from ingest_runs where id = $1", [runId]);
      return rows[0]?.finished_at ? rows[0] : undefined;
    },
    60_000,
  );
}

async function documents(): Promise<string[]> {
  const { rows } = await db.query("select source_path from documents order by 1");
  return rows.map((r) => r.source_path);
}

describe("hostile sources", { timeout: 90_000 }, () => {
  it("a source deleted mid-crawl: the run ends with the other sources indexed", async () => {
    await sources([
      ["kept", "kept.xml"],
      ["gone", "gone.xml"],
    ]);
    const run = await crawl("deleted", async () => {
      await eventually("the listing of the source", async () =>
        server.requests.some((r) => r.url === "/gone.xml") ? true : undefined,
      );
      await db.query("delete from ingest_sources where name = 'gone'");
      releaseListing();
    });
    expect(run.status).toBe("succeeded");
    expect(await documents()).toEqual(["/kept"]);
  });

  it("a binary file among a sitemap's pages fails alone, saying so; the pages after it are indexed", async () => {
    await sources([["mixed", "mixed.xml"]]);
    const run = await crawl("binary-item");
    expect(run).toMatchObject({ status: "succeeded", sources_failed: 0, items_failed: 1 });
    expect(await documents()).toEqual(["/kept", "/one", "/two"]);
    const { rows } = await db.query(
      "select item_key, error from ingest_item_errors where run_id = 'binary-item'",
    );
    expect(rows).toEqual([{ item_key: "/logo.png", error: expect.stringMatching(/NUL/) }]);
  });

  it("a URL longer than a key may be fails alone; the rest of its listing is indexed", async () => {
    await sources([["long", "long.xml"]]);
    const run = await crawl("long-url");
    expect(run).toMatchObject({ status: "succeeded", sources_failed: 0, items_failed: 1 });
    expect(await documents()).toEqual(["/kept", "/one", "/three", "/two"]);
    const { rows } = await db.query(
      "select item_key, error from ingest_item_errors where run_id = 'long-url'",
    );
    expect(rows).toEqual([
      {
        item_key: expect.stringMatching(/^\/four\?/),
        error: expect.stringMatching(/is 6006 bytes long; an item's URL may have at most 2000/),
      },
    ]);
  });

  it("a markdown file that holds a NUL fails alone, recorded by name; its earlier version and the other files stay indexed", async () => {
    await db.query("update ingest_sources set enabled = false");
    await db.query("insert into ingest_sources (name, kind, config) values ('notes', 'markdown_dir', $1)", [
      { path: notes },
    ]);
    const page = (n: string) => `# ${n}\n\nNotes about ${n} and widgets.\n`;
    for (const n of ["a", "b", "c"]) writeFileSync(join(notes, `${n}.md`), page(n));
    expect(await crawl("notes-clean")).toMatchObject({ status: "succeeded", items_failed: 0 });
    writeFileSync(join(notes, "b.md"), `# b\n\nA paste from a binary file: \u0000\u0001 widgets.\n`);
    writeFileSync(join(notes, "c.md"), page("c, edited"));

    const run = await crawl("notes-nul");
    expect(run).toMatchObject({ status: "succeeded", sources_failed: 0, items_failed: 1 });
    const { rows: errors } = await db.query(
      "select item_key, error from ingest_item_errors where run_id = 'notes-nul'",
    );
    expect(errors).toEqual([
      { item_key: "b.md", error: expect.stringMatching(/^b\.md holds NUL characters/) },
    ]);
    const { rows: source } = await db.query(
      "select status, listed, fetched, failed, staged from ingest_run_sources where run_id = 'notes-nul'",
    );
    expect(source).toEqual([{ status: "succeeded", listed: 3, fetched: 2, failed: 1, staged: 2 }]);
    const { rows: items } = await db.query(
      `select i.item_key, i.fetched_run_id from ingest_items i join ingest_sources s on s.id = i.source_id
        where s.name = 'notes' order by 1`,
    );
    expect(items).toEqual([
      { item_key: "a.md", fetched_run_id: "notes-nul" },
      { item_key: "b.md", fetched_run_id: "notes-clean" },
      { item_key: "c.md", fetched_run_id: "notes-nul" },
    ]);
    const { rows: docs } = await db.query(
      `select d.source_path, d.title from documents d join ingest_sources s on s.id = d.source_id
        where s.name = 'notes' order by 1`,
    );
    expect(docs).toEqual([
      { source_path: "a.md", title: "a" },
      { source_path: "b.md", title: "b" },
      { source_path: "c.md", title: "c, edited" },
    ]);
  });

  it("a listing that answers an error in binary fails its source with the answer, and the run ends", async () => {
    await sources([["broken", "broken.xml"]]);
    const run = await crawl("binary-error");
    expect(run).toMatchObject({ status: "failed", sources_failed: 1 });
    const { rows } = await db.query(
      "select status, error from ingest_run_sources where run_id = 'binary-error'",
    );
    expect(rows).toEqual([{ status: "failed", error: expect.stringMatching(/broken\.xml: HTTP 500 /) }]);
    expect(worker.proc.exitCode).toBeNull();
  });
});
