// The durable crawl against real parts: its own database, real worker processes (SIGKILLed), the real
// SDK on the Postgres store, and a loopback server with faults. Proves: failures are recorded per item and
// per source while everything else is indexed; a killed worker's successor fetches nothing that finished;
// the same run id starts no second run; the cadence gate skips fresh sources; staging is empty after.
import { join } from "node:path";
import type { Resonate } from "@resonatehq/sdk";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createResonate, toWorkers } from "../../functions/shared/resonate-client.ts";
import { dropDatabase, freshDatabase, pool } from "../support/db.ts";
import { type Loopback, PAGES, startLoopback } from "../support/ingest/loopback.ts";
import { startWorker, type WorkerProcess } from "../support/worker.ts";

const DB = "ingest_crawl_test";
const GROUP = `ingest-test-${process.pid}`;
const CORPUS = join(import.meta.dirname, "../fixtures/ingest/corpus");

let url: string;
let db: pg.Pool;
let lb: Loopback;
let client: Resonate;
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

async function start(runId: string, force = false): Promise<void> {
  await client.beginRpc(`ingest/${runId}`, "crawlCorpus", runId, force, toWorkers(client, GROUP));
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) {
      const tail = workers.at(-1)?.output().split("\n").slice(-15).join("\n");
      throw new Error(`timed out waiting for ${what}; last worker said:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function runStatus(runId: string): Promise<string | undefined> {
  const { rows } = await db.query("select status from ingest_runs where id = $1", [runId]);
  return rows[0]?.status;
}

// Generous: a failing source spends 7.5 s in step retries, and the index pass loads the local model, both
// slow on a loaded machine (50 s ran out at load 9).
const finished = (runId: string, timeoutMs = 100_000) =>
  waitFor(
    `run ${runId} to finish`,
    async () => {
      const s = await runStatus(runId);
      return s === "succeeded" || s === "failed" ? s : undefined;
    },
    timeoutMs,
  );

async function sourceId(name: string): Promise<number> {
  const { rows } = await db.query("select id from ingest_sources where name = $1", [name]);
  return Number(rows[0].id);
}

async function docPaths(name: string): Promise<string[]> {
  const { rows } = await db.query(
    "select d.source_path from documents d join ingest_sources s on s.id = d.source_id where s.name = $1 order by 1",
    [name],
  );
  return rows.map((r) => r.source_path);
}

beforeAll(async () => {
  url = await freshDatabase(DB);
  db = pool(url);
  lb = await startLoopback();
  // Test-only audit of every staging write attempt (BEFORE INSERT fires for upserts too).
  await db.query(`
    create table staging_log (staging_id text not null, at timestamptz not null default clock_timestamp());
    create function log_staging() returns trigger language plpgsql as
      $$ begin insert into staging_log (staging_id) values (new.staging_id); return new; end $$;
    create trigger log_staging before insert on ingest_staging for each row execute function log_staging();`);
  await db.query(
    `insert into ingest_sources (name, kind, config, priority) values
       ('docs', 'markdown_dir', $1, 10),
       ('site', 'sitemap', $2, 0),
       ('news', 'rss', $3, 0),
       ('badnews', 'rss', $4, 0),
       ('gh', 'github_issues', $5, 0)`,
    [
      { path: CORPUS },
      { url: `${lb.url}/sitemap.xml`, timeout_ms: 1000, concurrency: 4 },
      { url: `${lb.url}/feed.xml` },
      { url: `${lb.url}/bad-feed.xml` },
      {
        api_url: `${lb.url}/api`,
        repo: "acme/widgets",
        per_page: 2,
        timeout_ms: 3000,
        max_rate_limit_wait_ms: 5000,
      },
    ],
  );
  client = createResonate({
    databaseUrl: url,
    resonate: { serverUrl: undefined, group: "ingest-test-client", ttlMs: 3000, tickMs: 100 },
    group: `ingest-test-client-${process.pid}`,
  });
});

afterAll(async () => {
  for (const w of workers) await w.kill("SIGKILL");
  await client?.stop();
  await db?.end();
  await lb?.close();
  await dropDatabase(DB);
});

describe("crawlCorpus", { timeout: 150_000 }, () => {
  it("records each failure per item or source and indexes everything else; the same run id starts no second run", async () => {
    worker();
    await start("2026-11-21");
    expect(await finished("2026-11-21")).toBe("succeeded");

    const run = (await db.query("select * from ingest_runs where id = '2026-11-21'")).rows[0];
    expect(run).toMatchObject({ sources_total: 5, sources_failed: 1, items_failed: 2, documents_removed: 0 });
    // The run succeeded, and says what failed within it.
    expect(run.error).toBe(
      "1 of 5 sources failed, 2 items failed; see ingest_run_sources and ingest_item_errors",
    );

    const sources = await db.query(
      "select s.name, rs.status, rs.error from ingest_run_sources rs join ingest_sources s on s.id = rs.source_id where run_id = '2026-11-21' order by s.name",
    );
    expect(sources.rows.map((r) => [r.name, r.status])).toEqual([
      ["badnews", "failed"],
      ["docs", "succeeded"],
      ["gh", "succeeded"],
      ["news", "succeeded"],
      ["site", "succeeded"],
    ]);
    expect(sources.rows[0].error).toMatch(/closing tag <\/channel>.*does not match <item>/);

    const errors = await db.query(
      "select item_key, error from ingest_item_errors where run_id = '2026-11-21' order by item_key",
    );
    expect(errors.rows).toHaveLength(2);
    expect(errors.rows[0]).toMatchObject({ item_key: "/pages/broken" });
    expect(errors.rows[0].error).toMatch(/HTTP 500/);
    expect(errors.rows[1]).toMatchObject({ item_key: "/pages/slow" });
    expect(errors.rows[1].error).toMatch(/timed out after 1000 ms/);

    expect(await docPaths("site")).toEqual(PAGES.map((p) => `/pages/${p}`).sort());
    expect(await docPaths("news")).toEqual(["/posts/1", "/posts/2"]);
    // Issue 3 is a pull request; issue 2 was answered with a 403 rate limit first, waited out and retried.
    expect(await docPaths("gh")).toEqual(["issues/1", "issues/2", "issues/4"]);
    expect(lb.count("/api/repos/acme/widgets/issues/2")).toBe(2);
    expect((await docPaths("docs")).length).toBeGreaterThanOrEqual(20);
    const chunks = await db.query(
      "select count(*)::int as n, count(distinct model)::int as models from chunks",
    );
    expect(chunks.rows[0].n).toBeGreaterThan(30);
    expect(chunks.rows[0].models).toBe(1);
    const headings = await db.query(
      "select c.heading_path from chunks c join documents d on d.id = c.document_id where d.source_path = '/pages/alpha' order by chunk_index",
    );
    expect(headings.rows.map((r) => r.heading_path)).toContainEqual(["Page alpha", "Details"]);

    expect((await db.query("select count(*)::int as n from ingest_staging")).rows[0].n).toBe(0);

    const before = new Map(lb.counts);
    await start("2026-11-21");
    await new Promise((r) => setTimeout(r, 1500));
    expect(new Map(lb.counts)).toEqual(before);
    expect((await db.query("select count(*)::int as n from ingest_runs")).rows[0].n).toBe(1);
    expect(
      (await db.query("select count(*)::int as n from ingest_run_sources where run_id = '2026-11-21'"))
        .rows[0].n,
    ).toBe(5);
  });

  it("after a SIGKILL mid-crawl, the next worker fetches nothing that finished and the run completes", async () => {
    const runId = "2026-11-22-force-000000000";
    const site = await sourceId("site");
    lb.setPageDelay(700);
    const before = new Map(lb.counts);
    const first = workers[0]!;
    await start(runId, true);
    const staged = await waitFor("four site pages staged", async () => {
      const { rows } = await db.query(
        "select staging_id from ingest_staging where run_id = $1 and source_id = $2",
        [runId, site],
      );
      return rows.length >= 4 ? rows.map((r) => r.staging_id as string) : undefined;
    });
    await first.kill("SIGKILL");
    const atKill = new Map(lb.counts);
    lb.setPageDelay(0);

    worker();
    expect(await finished(runId, 80_000)).toBe("succeeded");

    const delta = (path: string, from: Map<string, number>) =>
      (lb.counts.get(path) ?? 0) - (from.get(path) ?? 0);
    // Listings finished before the kill: not fetched again.
    expect(delta("/sitemap.xml", before)).toBe(1);
    expect(delta("/feed.xml", before)).toBe(1);
    // Pages whose staging row existed at the kill were fetched exactly once in this run.
    const finishedPages = staged.map((id) => id.slice(`${runId}/${site}/`.length));
    expect(finishedPages.length).toBeGreaterThanOrEqual(4);
    for (const p of finishedPages) {
      expect(delta(p, before)).toBe(1);
      expect(delta(p, atKill)).toBe(0);
    }
    // Every staging id was written under the same run id, and each finished one exactly once.
    const log = await db.query(
      "select staging_id, count(*)::int as writes from staging_log where staging_id like $1 group by 1",
      [`${runId}/%`],
    );
    for (const id of staged) expect(log.rows.find((r) => r.staging_id === id)?.writes).toBe(1);
    const siteIds = log.rows
      .map((r) => r.staging_id)
      .filter((id: string) => id.startsWith(`${runId}/${site}/`))
      .sort();
    expect(siteIds).toEqual(PAGES.map((p) => `${runId}/${site}//pages/${p}`).sort());

    expect((await db.query("select count(*)::int as n from ingest_staging")).rows[0].n).toBe(0);
    expect(await docPaths("site")).toEqual(PAGES.map((p) => `/pages/${p}`).sort());
    const run = (await db.query("select * from ingest_runs where id = $1", [runId])).rows[0];
    // Nothing changed upstream since the first run, so every document is skipped as unchanged.
    expect(run.documents_indexed).toBe(0);
    expect(run.documents_unchanged).toBeGreaterThan(25);
  });

  it("skips sources crawled within their cadence on the next night", async () => {
    const before = new Map(lb.counts);
    await start("2026-11-23");
    expect(await finished("2026-11-23")).toBe("succeeded");
    const rs = await db.query(
      "select s.name, rs.status from ingest_run_sources rs join ingest_sources s on s.id = rs.source_id where run_id = '2026-11-23' order by 1",
    );
    // badnews never succeeded, so it is due again (and fails again); the others skip themselves.
    expect(rs.rows.map((r) => [r.name, r.status])).toEqual([
      ["badnews", "failed"],
      ["docs", "skipped"],
      ["gh", "skipped"],
      ["news", "skipped"],
      ["site", "skipped"],
    ]);
    expect(lb.count("/sitemap.xml")).toBe(before.get("/sitemap.xml"));
    expect(await docPaths("site")).toHaveLength(PAGES.length);
  });

  it("ends failed, saying so, when every source failed", async () => {
    await db.query("update ingest_sources set enabled = false");
    await db.query(
      "insert into ingest_sources (name, kind, config) values ('only-bad', 'rss', $1), ('typo', 'rss', $2)",
      [{ url: `${lb.url}/bad-feed.xml` }, { url: `${lb.url}/feed.xml`, max_item_per_run: 1 }],
    );
    await start("2026-11-24");
    expect(await finished("2026-11-24")).toBe("failed");
    const run = (await db.query("select * from ingest_runs where id = '2026-11-24'")).rows[0];
    expect(run).toMatchObject({
      sources_total: 2,
      sources_failed: 2,
      error: "2 of 2 sources failed; see ingest_run_sources and ingest_item_errors",
    });
    const typo = await db.query(
      "select rs.error from ingest_run_sources rs join ingest_sources s on s.id = rs.source_id where run_id = '2026-11-24' and s.name = 'typo'",
    );
    expect(typo.rows[0].error).toMatch(/source typo \(rss\): config has unknown key max_item_per_run/);
  });
});
