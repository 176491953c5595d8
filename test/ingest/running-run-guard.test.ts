// An operator's delete or edit of a nightly run while a real worker crawls it (the guards on
// public.ingest_runs, 20261121000500_ingest.sql). Without them the delete went through: the workflow's
// later writes failed on ingest_run_sources' foreign key, step after step, until it ended rejected some
// 30 s later, with no row left to say so and the pages it had staged left in ingest_staging for good.
import type { Resonate } from "@resonatehq/sdk";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createResonate, toWorkers } from "../../functions/shared/resonate-client.ts";
import { dropDatabase, freshDatabase, pool } from "../support/db.ts";
import { type Loopback, PAGES, startLoopback } from "../support/ingest/loopback.ts";
import { startWorker, type WorkerProcess } from "../support/worker.ts";

const DB = "ingest_running_run_guard";
const GROUP = `ingest-guard-${process.pid}`;

let db: pg.Pool;
let lb: Loopback;
let client: Resonate;
let worker: WorkerProcess;

beforeAll(async () => {
  const url = await freshDatabase(DB);
  db = pool(url);
  lb = await startLoopback();
  await db.query("insert into ingest_sources (name, kind, config) values ('site', 'sitemap', $1)", [
    { url: `${lb.url}/sitemap.xml`, timeout_ms: 1000, concurrency: 1 },
  ]);
  client = createResonate({
    databaseUrl: url,
    resonate: { serverUrl: undefined, group: "ingest-guard-client", ttlMs: 3000, tickMs: 100 },
    group: `ingest-guard-client-${process.pid}`,
  });
  worker = startWorker({
    DATABASE_URL: url,
    RESONATE_GROUP: GROUP,
    RESONATE_TTL_MS: "15000",
    RESONATE_TICK_MS: "100",
  });
});

afterAll(async () => {
  await worker?.kill("SIGKILL");
  await client?.stop();
  await db?.end();
  await lb?.close();
  await dropDatabase(DB);
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) {
      const tail = worker.output().split("\n").slice(-15).join("\n");
      throw new Error(`timed out waiting for ${what}; the worker said:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const count = async (sql: string, runId: string) => (await db.query(sql, [runId])).rows[0].n as number;

/** Starts the nightly run and returns once its crawl has staged pages and is still fetching more. */
async function startMidCrawl(runId: string): Promise<void> {
  lb.setPageDelay(800);
  await client.beginRpc(`ingest/${runId}`, "crawlCorpus", runId, false, toWorkers(client, GROUP));
  await waitFor("two pages staged", async () => {
    const n = await count("select count(*)::int as n from ingest_staging where run_id = $1", runId);
    return n >= 2 ? n : undefined;
  });
}

async function failure(sql: string, params: unknown[]): Promise<{ code?: string; message: string }> {
  try {
    await db.query(sql, params);
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error(`${sql} was not refused`);
}

describe("a running ingest run", { timeout: 180_000 }, () => {
  it("cannot be deleted, renumbered or have its status written by the API, and finishes whole", async () => {
    const runId = "2026-12-01";
    await startMidCrawl(runId);

    const deleted = await failure("delete from ingest_runs where id = $1", [runId]);
    expect(deleted.code).toBe("55006");
    expect(deleted.message).toBe(
      "ingest run 2026-12-01 is still running (workflow ingest/2026-12-01 is pending); cancel it first with select public.cancel_workflow('ingest/2026-12-01'), then delete it",
    );
    expect((await failure("update ingest_runs set id = 'renamed' where id = $1", [runId])).code).toBe(
      "55000",
    );
    const asApi = await db.connect();
    try {
      await asApi.query("begin");
      await asApi.query("set local role service_role");
      const edited = await asApi
        .query("update ingest_runs set status = 'failed' where id = $1", [runId])
        .catch((err: { code?: string }) => err);
      expect((edited as { code?: string }).code).toBe("42501");
    } finally {
      await asApi.query("rollback");
      asApi.release();
    }

    lb.setPageDelay(0);
    const status = await waitFor("the run to finish", async () => {
      const { rows } = await db.query("select status from ingest_runs where id = $1", [runId]);
      return ["succeeded", "failed"].includes(rows[0]?.status) ? rows[0].status : undefined;
    });
    expect(status).toBe("succeeded");
    const root = await waitFor("the workflow to settle", async () => {
      const { rows } = await db.query("select state from resonate.promises where id = $1", [
        `ingest/${runId}`,
      ]);
      return rows[0]?.state === "pending" ? undefined : rows[0]?.state;
    });
    expect(root).toBe("resolved");
    expect(await count("select count(*)::int as n from documents where run_id = $1", runId)).toBe(
      PAGES.length,
    );
    expect(await count("select count(*)::int as n from ingest_staging where run_id = $1", runId)).toBe(0);
    expect(worker.output()).not.toMatch(/violates foreign key constraint/);
  });

  it("deletes once canceled, taking its per-source rows and its staged pages with it", async () => {
    const runId = "2026-12-02";
    await db.query("update ingest_sources set last_crawled_at = null");
    await startMidCrawl(runId);
    const { rows } = await db.query("select public.cancel_workflow($1) as n", [`ingest/${runId}`]);
    expect(rows[0].n).toBeGreaterThan(0);
    lb.setPageDelay(0);
    await db.query("delete from ingest_runs where id = $1", [runId]);
    expect(await count("select count(*)::int as n from ingest_runs where id = $1", runId)).toBe(0);
    expect(await count("select count(*)::int as n from ingest_run_sources where run_id = $1", runId)).toBe(0);
    // Kept for a retry to index, staged pages have no one to index them once their run is gone.
    expect(await count("select count(*)::int as n from ingest_staging where run_id = $1", runId)).toBe(0);
  });
});
