// A worker indexing a very large page stays responsive (issue: one 64-chunk embedding batch of a 2.8 MB
// page blocked the worker for 14 s, it lost its lease and SIGTERM could not stop it). Real worker process,
// its own database and Resonate group, the local model in two threads: while it crawls and indexes a
// 2.8 MB page, /health answers within 200 ms, the task's lease keeps being renewed, the run row's progress
// moves, the page is cut at INGEST_MAX_CHUNKS_PER_PAGE with the run saying so, and SIGTERM mid-index stops
// the worker within its deadline. Converting a big HTML page to text happens off the event loop too.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Resonate } from "@resonatehq/sdk";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pageText } from "../../functions/ingest/page-text.ts";
import { createResonate, toWorkers } from "../../functions/shared/resonate-client.ts";
import { dropDatabase, freshDatabase, pool } from "../support/db.ts";
import { startWorker, type WorkerProcess } from "../support/worker.ts";

const DB = "ingest_event_loop_test";
const GROUP = `ingest-loop-test-${process.pid}`;
const CAP = 120;
const GRACE_MS = 2_000;

let url: string;
let db: pg.Pool;
let client: Resonate;
let root: string;
let healthPort: number;
const workers: WorkerProcess[] = [];

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

/** ~2.8 MB of markdown: sections of distinct sentences, so it makes thousands of distinct chunks. */
function bigPage(seed: string): string {
  const parts: string[] = [`# Big handbook ${seed}`];
  for (let s = 0; parts.join("\n").length < 2_800_000; s++) {
    parts.push(`## Section ${s}`);
    for (let p = 0; p < 8; p++) {
      parts.push(
        Array.from(
          { length: 6 },
          (_, n) =>
            `Rule ${s}.${p}.${n} of edition ${seed} says the ${["red", "green", "blue"][n % 3]} valve opens at step ${s * 7 + n}.`,
        ).join(" "),
      );
    }
  }
  return parts.join("\n\n");
}

async function runRow(runId: string) {
  const { rows } = await db.query(
    "select status, chunks_total, chunks_done, error from ingest_runs where id = $1",
    [runId],
  );
  return rows[0] as
    | { status: string; chunks_total: number | null; chunks_done: number; error: string | null }
    | undefined;
}

async function leaseExpiry(runId: string): Promise<number | undefined> {
  // A heartbeat moves the lease timer (timer_kind 1) to now + ttl.
  const { rows } = await db.query(
    "select timer_at from resonate.tasks where id = $1 and state = 'acquired' and timer_kind = 1",
    [`ingest/${runId}`],
  );
  return rows[0] ? Number(rows[0].timer_at) : undefined;
}

async function healthMs(): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${healthPort}/health`, { signal: AbortSignal.timeout(10_000) });
  await res.text();
  return performance.now() - t0;
}

beforeAll(async () => {
  url = await freshDatabase(DB);
  db = pool(url);
  root = mkdtempSync(join(tmpdir(), "ingest-loop-"));
  mkdirSync(join(root, "big"));
  writeFileSync(join(root, "big", "handbook.md"), bigPage("one"));
  await db.query("insert into ingest_sources (name, kind, config) values ('big', 'markdown_dir', $1)", [
    { path: join(root, "big") },
  ]);
  healthPort = await freePort();
  client = createResonate({
    databaseUrl: url,
    resonate: { serverUrl: undefined, group: "ingest-loop-client", ttlMs: 3000, tickMs: 100 },
    group: `ingest-loop-client-${process.pid}`,
  });
});

afterAll(async () => {
  for (const w of workers) await w.kill("SIGKILL");
  await client?.stop();
  await db?.end();
  await dropDatabase(DB);
  rmSync(root, { recursive: true, force: true });
});

function worker(): WorkerProcess {
  const w = startWorker({
    DATABASE_URL: url,
    RESONATE_GROUP: GROUP,
    // Heartbeats every 2 s: a loop blocked for longer loses the lease.
    RESONATE_TTL_MS: "4000",
    RESONATE_TICK_MS: "100",
    WORKER_HEALTH_PORT: String(healthPort),
    WORKER_SHUTDOWN_GRACE_MS: String(GRACE_MS),
    INGEST_FILE_ROOT: root,
    INGEST_EMBEDDINGS: "local",
    INGEST_EMBED_THREADS: "2",
    // Small batches, so progress moves several times within the page.
    INGEST_EMBED_BATCH: "16",
    INGEST_MAX_CHUNKS_PER_PAGE: String(CAP),
  });
  workers.push(w);
  return w;
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${what}; worker said:\n${workers.at(-1)?.output().slice(-3000)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("a worker indexing a 2.8 MB page", () => {
  it("answers /health within 200 ms (p99), keeps its lease, shows progress, and states the chunk cap in the run's errors", {
    timeout: 240_000,
  }, async () => {
    const w = worker();
    await w.waitForOutput('"event":"started"');
    await waitFor("health", async () =>
      (await fetch(`http://127.0.0.1:${healthPort}/health`)).ok ? true : undefined,
    );
    await client.beginRpc("ingest/loop-1", "crawlCorpus", "loop-1", true, toWorkers(client, GROUP));

    const latencies: number[] = [];
    const expiries = new Set<number>();
    const progress = new Set<number>();
    let row = await runRow("loop-1");
    while (row?.status !== "succeeded" && row?.status !== "failed") {
      latencies.push(await healthMs());
      const expiry = await leaseExpiry("loop-1");
      if (expiry !== undefined && row?.status === "indexing") expiries.add(expiry);
      if (row?.status === "indexing" && row.chunks_total) progress.add(row.chunks_done);
      await new Promise((r) => setTimeout(r, 50));
      row = await runRow("loop-1");
      if (latencies.length > 4000) throw new Error(`run did not finish: ${JSON.stringify(row)}`);
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const p99 = sorted[Math.floor(sorted.length * 0.99)]!;
    const worst = sorted.at(-1)!;
    console.log(
      `health probes: ${latencies.length}, p50 ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms, worst ${worst.toFixed(0)} ms; lease renewals seen while indexing: ${expiries.size}; progress values seen: ${[...progress].join(", ")}`,
    );
    expect(row.status).toBe("succeeded");
    // Before, the loop stalled for whole seconds per embedding batch. The bound is on the 99th percentile
    // because this machine is shared: under a load average of 6-9 on 2 cores the prober's own event loop
    // lagged up to ~95 ms, so a rare probe takes longer without the worker being at fault.
    expect(p99).toBeLessThan(200);
    expect(worst).toBeLessThan(1_000);
    // Renewed every 2 s while indexing took several seconds: the first expiry and at least one renewal.
    expect(expiries.size).toBeGreaterThanOrEqual(2);
    expect([...progress].some((n) => n > 0 && n < CAP)).toBe(true);
    expect(row).toMatchObject({ chunks_total: CAP, chunks_done: CAP });
    expect(row.error).toBe(
      "1 pages indexed only up to INGEST_MAX_CHUNKS_PER_PAGE chunks; see ingest_run_sources and ingest_item_errors",
    );
    const { rows } = await db.query("select item_key, error from ingest_item_errors where run_id = 'loop-1'");
    expect(rows).toEqual([
      {
        item_key: "handbook.md",
        error: expect.stringMatching(
          new RegExp(
            `^indexed only the first ${CAP} of its \\d{4,} chunks \\(INGEST_MAX_CHUNKS_PER_PAGE is ${CAP}\\)$`,
          ),
        ),
      },
    ]);
  });

  it("handles SIGTERM mid-index at once and exits within its deadline (grace + 5 s)", {
    timeout: 240_000,
  }, async () => {
    writeFileSync(join(root, "big", "handbook.md"), bigPage("two"));
    const w = workers.at(-1)!;
    await client.beginRpc("ingest/loop-2", "crawlCorpus", "loop-2", true, toWorkers(client, GROUP));
    await waitFor("indexing with progress", async () => {
      const r = await runRow("loop-2");
      return r?.status === "indexing" && r.chunks_done > 0 ? r : undefined;
    });
    const t0 = performance.now();
    w.proc.kill("SIGTERM");
    await w.waitForOutput('"event":"stopping"', 10_000);
    const heardMs = performance.now() - t0;
    await w.kill("SIGTERM");
    const stoppedMs = performance.now() - t0;
    console.log(`SIGTERM handled after ${heardMs.toFixed(0)} ms, exited after ${stoppedMs.toFixed(0)} ms`);
    // The signal is handled at once, not after the batch being embedded.
    expect(heardMs).toBeLessThan(500);
    // The runtime's own deadline: the grace period, then 5 s to release before it exits regardless; the
    // rest is the process and its threads going away.
    expect(stoppedMs).toBeLessThan(GRACE_MS + 5_000 + 1_500);
  });
});

describe("pageText", () => {
  it("turns a 2.8 MB HTML page into text in a thread, with the event loop free meanwhile", async () => {
    const html = `<html><head><title>Big</title></head><body>${"<h2>Part</h2><p>Some <b>bold</b> words and a <a href='#'>link</a> in a paragraph.</p>\n".repeat(33_000)}</body></html>`;
    expect(html.length).toBeGreaterThan(2_800_000);
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const page = await pageText(html);
    delay.disable();
    expect(page.title).toBe("Big");
    expect(page.text).toMatch(/^## Part\n\nSome bold words and a link in a paragraph\./);
    // On the event loop this conversion takes ~300 ms (more under load); the bound leaves room for this
    // shared machine's scheduling noise (~100 ms).
    expect(delay.max / 1e6).toBeLessThan(200);
  });
});
