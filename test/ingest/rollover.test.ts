// The per-run cap of a list-then-process source, against real parts: its own database, a real worker
// process, the real SDK on the Postgres store, and the loopback server. A sitemap listing five pages with
// `max_items_per_run: 2` fetches two pages per run; the rest rolls over: never-fetched pages first, then the
// least recently fetched ones. Proves it by what each run asked the loopback for, by what it recorded
// (ingest_items, ingest_run_sources.rolled_over) and by the documents indexed.
import type { Resonate } from "@resonatehq/sdk";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createResonate, toWorkers } from "../../functions/shared/resonate-client.ts";
import { dropDatabase, freshDatabase, pool } from "../support/db.ts";
import { type Loopback, startLoopback } from "../support/ingest/loopback.ts";
import { startWorker, type WorkerProcess } from "../support/worker.ts";

const DB = "ingest_rollover_test";
const GROUP = `ingest-rollover-${process.pid}`;
// Five of the loopback sitemap's pages (the `include` filter leaves out foxtrot, broken and slow).
const FIVE = ["alpha", "bravo", "charlie", "delta", "echo"];
const PAGE_PATHS = FIVE.map((p) => `/pages/${p}`);

let url: string;
let db: pg.Pool;
let lb: Loopback;
let client: Resonate;
let site: number;
const workers: WorkerProcess[] = [];

function worker(): WorkerProcess {
  const w = startWorker({
    DATABASE_URL: url,
    RESONATE_GROUP: GROUP,
    RESONATE_TTL_MS: "15000",
    RESONATE_TICK_MS: "100",
  });
  workers.push(w);
  return w;
}

async function start(runId: string, force: boolean): Promise<void> {
  await client.beginRpc(`ingest/${runId}`, "crawlCorpus", runId, force, toWorkers(client, GROUP));
}

async function finished(runId: string, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.query("select status from ingest_runs where id = $1", [runId]);
    const s = rows[0]?.status;
    if (s === "succeeded" || s === "failed") return s;
    if (Date.now() > deadline) {
      const tail = workers.at(-1)?.output().split("\n").slice(-15).join("\n");
      throw new Error(`timed out waiting for run ${runId} to finish; last worker said:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs `runId` to completion and returns the loopback paths it requested (path -> requests). */
async function crawl(runId: string, force: boolean): Promise<Record<string, number>> {
  const before = new Map(lb.counts);
  await start(runId, force);
  expect(await finished(runId)).toBe("succeeded");
  const requested: Record<string, number> = {};
  for (const [path, n] of lb.counts) {
    const d = n - (before.get(path) ?? 0);
    if (d > 0) requested[path] = d;
  }
  return requested;
}

const fetchedPages = (requested: Record<string, number>) =>
  Object.keys(requested)
    .filter((p) => p.startsWith("/pages/"))
    .sort();

async function runSource(runId: string) {
  const { rows } = await db.query(
    "select status, listed, fetched, failed, rolled_over, staged from ingest_run_sources where run_id = $1 and source_id = $2",
    [runId, site],
  );
  return rows[0];
}

interface Item {
  item_key: string;
  fetched_run_id: string | null;
  fetched_at: Date | null;
}

async function items(): Promise<Item[]> {
  const { rows } = await db.query(
    "select item_key, fetched_run_id, fetched_at from ingest_items where source_id = $1 order by item_key",
    [site],
  );
  return rows;
}

async function docPaths(): Promise<string[]> {
  const { rows } = await db.query(
    "select source_path from documents where source_id = $1 order by source_path",
    [site],
  );
  return rows.map((r) => r.source_path);
}

beforeAll(async () => {
  url = await freshDatabase(DB);
  db = pool(url);
  lb = await startLoopback();
  const { rows } = await db.query(
    "insert into ingest_sources (name, kind, config) values ('site', 'sitemap', $1) returning id",
    [
      {
        url: `${lb.url}/sitemap.xml`,
        include: `/pages/(${FIVE.join("|")})$`,
        max_items_per_run: 2,
        // One page at a time, so the two pages of a run get distinct fetched_at in key order and "least
        // recently fetched" has one right answer.
        concurrency: 1,
        timeout_ms: 3000,
      },
    ],
  );
  site = Number(rows[0].id);
  client = createResonate({
    databaseUrl: url,
    resonate: { serverUrl: undefined, group: "ingest-rollover-client", ttlMs: 3000, tickMs: 100 },
    group: `ingest-rollover-client-${process.pid}`,
  });
  worker();
});

afterAll(async () => {
  for (const w of workers) await w.kill("SIGKILL");
  await client?.stop();
  await db?.end();
  await lb?.close();
  await dropDatabase(DB);
});

describe("max_items_per_run", () => {
  it("fetches at most the cap per run and rolls the rest over: never-fetched first, then least recently fetched", {
    timeout: 90_000,
  }, async () => {
    // Run 1: the first two never-fetched pages (by key); three roll over.
    const run1 = "2026-12-01";
    const r1 = await crawl(run1, false);
    expect(r1["/sitemap.xml"]).toBe(1);
    expect(fetchedPages(r1)).toEqual(["/pages/alpha", "/pages/bravo"]);
    for (const p of fetchedPages(r1)) expect(r1[p]).toBe(1);
    expect(await runSource(run1)).toMatchObject({
      status: "succeeded",
      listed: 5,
      fetched: 2,
      failed: 0,
      rolled_over: 3,
      staged: 2,
    });
    expect((await items()).map((i) => [i.item_key, i.fetched_run_id])).toEqual([
      ["/pages/alpha", run1],
      ["/pages/bravo", run1],
      ["/pages/charlie", null],
      ["/pages/delta", null],
      ["/pages/echo", null],
    ]);
    expect(await docPaths()).toEqual(["/pages/alpha", "/pages/bravo"]);

    // Run 2 (forced, the source is within its cadence): the next two never-fetched pages. Pages listed but
    // not fetched this run keep their documents.
    const run2 = "2026-12-01-force-100000000";
    const r2 = await crawl(run2, true);
    expect(r2["/sitemap.xml"]).toBe(1);
    expect(fetchedPages(r2)).toEqual(["/pages/charlie", "/pages/delta"]);
    expect(await runSource(run2)).toMatchObject({ listed: 5, fetched: 2, rolled_over: 3, staged: 2 });
    expect(await docPaths()).toEqual(["/pages/alpha", "/pages/bravo", "/pages/charlie", "/pages/delta"]);

    // Run 3: the last never-fetched page, then the least recently fetched one (alpha, from run 1).
    const before3 = await items();
    const oldest = before3
      .filter((i) => i.fetched_at !== null)
      .sort((a, b) => a.fetched_at!.getTime() - b.fetched_at!.getTime())[0]!;
    expect(oldest.item_key).toBe("/pages/alpha");
    const run3 = "2026-12-01-force-110000000";
    const r3 = await crawl(run3, true);
    expect(fetchedPages(r3)).toEqual(["/pages/alpha", "/pages/echo"]);
    expect(await runSource(run3)).toMatchObject({ listed: 5, fetched: 2, rolled_over: 3, staged: 2 });
    const run3row = (await db.query("select * from ingest_runs where id = $1", [run3])).rows[0];
    // echo is new; alpha is unchanged upstream and so not re-embedded.
    expect(run3row).toMatchObject({ documents_indexed: 1, documents_unchanged: 1, documents_removed: 0 });

    // Run 4: nothing is never-fetched now, so strictly least recently fetched: bravo (run 1) and charlie
    // (run 2), not the first keys (alpha was fetched again in run 3).
    const run4 = "2026-12-01-force-120000000";
    const r4 = await crawl(run4, true);
    expect(fetchedPages(r4)).toEqual(["/pages/bravo", "/pages/charlie"]);
    expect(await runSource(run4)).toMatchObject({ listed: 5, fetched: 2, rolled_over: 3 });

    // Over the four runs every page was fetched, none more often than the rotation demands.
    const total = (p: string) => [r1, r2, r3, r4].reduce((n, r) => n + (r[p] ?? 0), 0);
    expect(PAGE_PATHS.map(total)).toEqual([2, 2, 2, 1, 1]);
    expect((await items()).map((i) => [i.item_key, i.fetched_run_id])).toEqual([
      ["/pages/alpha", run3],
      ["/pages/bravo", run4],
      ["/pages/charlie", run4],
      ["/pages/delta", run2],
      ["/pages/echo", run3],
    ]);
    expect(await docPaths()).toEqual(PAGE_PATHS);
    const chunks = await db.query(
      `select d.source_path, count(c.id)::int as n from documents d left join chunks c on c.document_id = d.id
        where d.source_id = $1 group by 1 order by 1`,
      [site],
    );
    expect(chunks.rows.map((r) => r.source_path)).toEqual(PAGE_PATHS);
    for (const r of chunks.rows) expect(r.n).toBeGreaterThan(0);
    expect((await db.query("select count(*)::int as n from ingest_item_errors")).rows[0].n).toBe(0);
    expect((await db.query("select count(*)::int as n from ingest_staging")).rows[0].n).toBe(0);
  });
  it("counts a failed fetch as a try, so items that keep failing take turns instead of filling every run", {
    timeout: 90_000,
  }, async () => {
    // A second source whose first page by key always answers 500, with room for one item per run. If a
    // failure did not count as a try, `broken` would look never-fetched forever and take every run.
    await db.query("update ingest_sources set enabled = false where id = $1", [site]);
    const { rows } = await db.query(
      "insert into ingest_sources (name, kind, config) values ('flaky', 'sitemap', $1) returning id",
      [
        {
          url: `${lb.url}/sitemap.xml`,
          include: "/pages/(broken|echo|foxtrot)$",
          max_items_per_run: 1,
          concurrency: 1,
          timeout_ms: 3000,
        },
      ],
    );
    const flaky = Number(rows[0].id);
    const fetchedBy = async (runId: string, force: boolean) => fetchedPages(await crawl(runId, force));

    expect(await fetchedBy("2026-12-02", false)).toEqual(["/pages/broken"]);
    const { rows: errors } = await db.query(
      "select item_key from ingest_item_errors where source_id = $1 and run_id = '2026-12-02'",
      [flaky],
    );
    expect(errors.map((e) => e.item_key)).toEqual(["/pages/broken"]);
    // Then the never-tried pages, and only then the failing one again.
    expect(await fetchedBy("2026-12-02-force-100000000", true)).toEqual(["/pages/echo"]);
    expect(await fetchedBy("2026-12-02-force-110000000", true)).toEqual(["/pages/foxtrot"]);
    expect(await fetchedBy("2026-12-02-force-120000000", true)).toEqual(["/pages/broken"]);
  });
});
