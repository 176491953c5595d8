// The one end-to-end test on the shared database through the real path: SQL app.trigger_ingest (what the
// pg_cron job runs) → net.http_post → `ingest` Edge Function (Deno) → beginRpc → a real worker in group
// "workers" → crawl, index → `search` Edge Function called with supabase-js functions.invoke.
import { join } from "node:path";
import { createClient } from "@supabase/supabase-js";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pool } from "../support/db.ts";
import { startWorker, type WorkerProcess } from "../support/worker.ts";

const SOURCE = `e2e-corpus-${process.pid}-${Date.now()}`;
let db: pg.Pool;
let worker: WorkerProcess;

beforeAll(async () => {
  db = pool();
  await db.query("insert into ingest_sources (name, kind, config) values ($1, 'markdown_dir', $2)", [
    SOURCE,
    { path: join(import.meta.dirname, "../fixtures/ingest/corpus") },
  ]);
  worker = startWorker();
  await worker.waitForOutput('"event":"started"');
});

afterAll(async () => {
  await worker?.kill("SIGKILL");
  await db?.query("delete from ingest_sources where name = $1", [SOURCE]);
  await db?.end();
});

describe("ingest end to end", () => {
  it("cron's SQL call starts a run through the Edge Function, the worker indexes, and search finds it", {
    timeout: 120_000,
  }, async () => {
    const cron = await db.query("select schedule, command from cron.job where jobname = 'ingest-nightly'");
    expect(cron.rows[0]).toMatchObject({
      schedule: "0 3 * * *",
      command: expect.stringContaining("app.trigger_ingest"),
    });

    const since = (await db.query("select now() as t")).rows[0].t;
    await db.query("select app.trigger_ingest(true, 'e2e')");
    const deadline = Date.now() + 110_000;
    let run: { id: string; status: string } | undefined;
    while (Date.now() < deadline) {
      run = (
        await db.query("select id, status from ingest_runs where trigger = 'e2e' and created_at >= $1", [
          since,
        ])
      ).rows[0];
      if (run?.status === "succeeded" || run?.status === "failed") break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(run?.status).toBe("succeeded");
    expect(run?.id).toMatch(/^\d{4}-\d{2}-\d{2}-force-\d{9}$/);
    const docs = await db.query(
      "select count(*)::int as n from documents d join ingest_sources s on s.id = d.source_id where s.name = $1",
      [SOURCE],
    );
    expect(docs.rows[0].n).toBe(23);
    expect(
      (await db.query("select count(*)::int as n from ingest_staging where run_id = $1", [run!.id])).rows[0]
        .n,
    ).toBe(0);

    const supabase = createClient(process.env.SUPABASE_URL!, process.env.SUPABASE_ANON_KEY!);
    const { data, error } = await supabase.functions.invoke("search", {
      body: { query: "what is the guest wifi password", k: 3, source: SOURCE },
    });
    expect(error).toBeNull();
    // The stack's worker embeds with the local model, which never loads inside a function: the function
    // ranks by BM25 and says why.
    expect(data).toMatchObject({
      mode: "text",
      model: null,
      note: expect.stringMatching(/^ranked by text only/),
    });
    expect(data.results[0]).toMatchObject({ source_path: "wifi.md", title: "Office Wi-Fi" });
    const bad = await supabase.functions.invoke("search", { body: { query: "" } });
    expect((bad.error as { context?: Response } | null)?.context?.status).toBe(400);
  });
});
