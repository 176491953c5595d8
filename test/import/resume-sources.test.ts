// Where a batch step resumed after a SIGKILL reads its records from, for each kind of source, and
// that every valid row is still written exactly once:
// - an http(s) source without byte ranges: staging kept its bytes in the database, the resumed step
//   reads them there (the server is asked once), and they are deleted when the job finishes;
// - an http(s) source with byte ranges and an ETag: the resumed step asks for the rest with Range and
//   If-Range, and nothing is kept;
// - a gzip source (a file, or http with ranges): the resumed step decompresses it from the start and
//   skips to its batch.
// A source that changed while the worker was down stops the job at the first batch that no longer
// has the bytes staging read, saying so; the batches before it stay imported, once.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type LoopbackServer, startLoopbackServer } from "../support/http-server.ts";
import { contactsCsv, effects, type Harness, importHarness, uid } from "../support/import/harness.ts";
import type { WorkerProcess } from "../support/worker.ts";

const ROWS = 10_000;
const BATCH = 1_000;
const INVALID_EVERY = 50;
const VALID = ROWS - ROWS / INVALID_EVERY;
const K = 4;

let h: Harness;
let server: LoopbackServer;
/** What the server answers per path: the bytes and, for ranged paths, the ETag. */
const files = new Map<string, { body: Buffer; etag?: string }>();

beforeAll(async () => {
  h = await importHarness("import_resume_sources");
  server = await startLoopbackServer((req, res) => {
    const f = files.get(req.url);
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    if (!f.etag) {
      res.writeHead(200, { "content-type": "text/csv" }).end(f.body);
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const ifRange = req.headers["if-range"];
    const headers = { "accept-ranges": "bytes", etag: f.etag };
    if (range && (ifRange === undefined || ifRange === f.etag)) {
      const start = Number(range[1]);
      res
        .writeHead(206, {
          ...headers,
          "content-range": `bytes ${start}-${f.body.length - 1}/${f.body.length}`,
        })
        .end(f.body.subarray(start));
      return;
    }
    res.writeHead(200, headers).end(f.body);
  });
});
afterAll(async () => {
  await h?.close();
  await server?.close();
});

/** A job whose batch K sleeps inside its transaction on its first attempt, and a worker that takes it. */
async function startPaused(sourceUrl: string): Promise<{ id: string; group: string; first: WorkerProcess }> {
  const group = `${h.group}-${uid()}`;
  const first = h.worker({ RESONATE_GROUP: group });
  await first.waitForOutput('"started"');
  const id = await h.insertJob({ source_url: sourceUrl, batch_size: BATCH });
  await h.pool.query(
    "insert into app.import_fault_injections (job_id, batch_index, delay_inside_ms) values ($1, $2, 4000)",
    [id, K],
  );
  await h.starter.beginRpc(`import/${id}`, "importJob", id, h.starter.options({ target: group }));
  await eventually(
    `batch ${K} to sit inside its transaction`,
    async () => {
      const { rows } = await h.pool.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity
          where datname = current_database() and wait_event = 'PgSleep' and query like '%import_fault_point%''inside''%'`,
      );
      return rows[0]!.n > 0 ? true : undefined;
    },
    30_000,
  );
  return { id, group, first };
}

async function kept(id: string): Promise<{ chunks: number; sources: number }> {
  const { rows } = await h.pool.query<{ chunks: number; sources: number }>(
    `select (select count(*)::int from public.import_source_chunks where job_id = $1) as chunks,
            (select count(*)::int from public.import_sources where job_id = $1) as sources`,
    [id],
  );
  return rows[0]!;
}

async function attempts(id: string): Promise<number[]> {
  const { rows } = await h.pool.query<{ attempts: number }>(
    "select attempts from public.import_batches where job_id = $1 order by batch_index",
    [id],
  );
  return rows.map((r) => r.attempts);
}

/** Kills the first worker mid-batch K, lets a second one finish, and checks every row landed once. */
async function killAndResume(id: string, group: string, first: WorkerProcess): Promise<void> {
  await first.kill("SIGKILL");
  const fx = await effects(h.pool, id);
  expect(fx.inserts, "batch K's uncommitted rows left nothing").toBe(K * (BATCH - BATCH / INVALID_EVERY));
  const second = h.worker({ RESONATE_GROUP: group });
  expect(await h.waitFinished(id, 120_000)).toMatchObject({
    status: "partially_succeeded",
    imported_rows: VALID,
    failed_rows: ROWS - VALID,
    batches_done: ROWS / BATCH,
  });
  expect(await effects(h.pool, id)).toEqual({ inserts: VALID, updates: 0, maxPerEmail: 1 });
  expect(await attempts(id)).toEqual(Array.from({ length: ROWS / BATCH }, (_, i) => (i === K ? 2 : 1)));
  await second.kill("SIGTERM");
}

describe("a batch step resumed after SIGKILL", () => {
  it("reads an http source without byte ranges from the bytes staging kept, and they go when the job ends", async () => {
    const path = `/${uid()}.csv`;
    files.set(path, { body: Buffer.from(contactsCsv(ROWS, uid(), { invalidEvery: INVALID_EVERY })) });
    const { id, group, first } = await startPaused(`${server.url}${path}`);
    expect(await kept(id)).toMatchObject({ sources: 1 });
    expect((await kept(id)).chunks).toBeGreaterThan(0);
    await killAndResume(id, group, first);
    expect(server.requests.filter((r) => r.url === path)).toHaveLength(1);
    expect(await kept(id)).toEqual({ chunks: 0, sources: 0 });
  }, 180_000);

  it("asks an http source with byte ranges for the rest with Range and If-Range, keeping nothing", async () => {
    const path = `/${uid()}.csv`;
    files.set(path, {
      body: Buffer.from(contactsCsv(ROWS, uid(), { invalidEvery: INVALID_EVERY })),
      etag: '"v1"',
    });
    const { id, group, first } = await startPaused(`${server.url}${path}`);
    expect(await kept(id)).toEqual({ chunks: 0, sources: 1 });
    const { rows } = await h.pool.query<{ byte_start: string }>(
      "select byte_start from public.import_batches where job_id = $1 and batch_index in (0, $2, $2 + 1) order by batch_index",
      [id, K],
    );
    await killAndResume(id, group, first);
    const asked = server.requests
      .filter((r) => r.url === path)
      .map((r) => [r.headers.range, r.headers["if-range"]]);
    // Staging read it whole; the first batch step from batch 0; the resumed one from batch K, and the
    // step after it (a batch that needed a second attempt ends its step) from K + 1.
    expect(asked).toEqual([[undefined, undefined], ...rows.map((r) => [`bytes=${r.byte_start}-`, '"v1"'])]);
    expect(await kept(id)).toEqual({ chunks: 0, sources: 0 });
  }, 180_000);

  it("reads a gzip http source with byte ranges whole again, checked by its ETag, and skips to the batch", async () => {
    const path = `/${uid()}.csv.gz`;
    files.set(path, {
      body: gzipSync(contactsCsv(ROWS, uid(), { invalidEvery: INVALID_EVERY })),
      etag: '"gz1"',
    });
    const { id, group, first } = await startPaused(`${server.url}${path}`);
    expect(await kept(id)).toEqual({ chunks: 0, sources: 1 });
    await killAndResume(id, group, first);
    // Offsets count decompressed bytes, which no range of the compressed file starts at.
    const asked = server.requests.filter((r) => r.url === path).map((r) => r.headers.range ?? "whole");
    expect(asked).toEqual(["whole", "whole", "whole", "whole"]);
  }, 180_000);

  it("decompresses a gzip file from its start and skips to the batch", async () => {
    const name = `${uid()}.csv.gz`;
    const source = h.writeFile(name, gzipSync(contactsCsv(ROWS, uid(), { invalidEvery: INVALID_EVERY })));
    const { id, group, first } = await startPaused(source);
    const { rows } = await h.pool.query<{ gzip: boolean; spooled: boolean }>(
      "select gzip, spooled from public.import_sources where job_id = $1",
      [id],
    );
    expect(rows[0]).toEqual({ gzip: true, spooled: false });
    await killAndResume(id, group, first);
  }, 180_000);
});

describe("a source that changed while the worker was down", () => {
  async function expectStoppedAtK(id: string, group: string, first: WorkerProcess, why: RegExp) {
    await first.kill("SIGKILL");
    const second = h.worker({ RESONATE_GROUP: group });
    const job = await h.waitFinished(id, 120_000);
    expect(job).toMatchObject({
      status: "failed",
      batches_done: K,
      imported_rows: K * (BATCH - BATCH / INVALID_EVERY),
    });
    expect(job.error).toMatch(why);
    expect(job.error).toMatch(
      `Batches 0-${K - 1} stay imported. Insert a new job to import it as it is now.`,
    );
    expect(await effects(h.pool, id)).toEqual({
      inserts: K * (BATCH - BATCH / INVALID_EVERY),
      updates: 0,
      maxPerEmail: 1,
    });
    await second.kill("SIGTERM");
  }

  it("a file rewritten in place: the batch's bytes no longer match, and the job stops there", async () => {
    const name = `${uid()}.csv`;
    const tag = uid().padEnd(8, "x");
    const source = h.writeFile(name, contactsCsv(ROWS, tag, { invalidEvery: INVALID_EVERY }));
    const { id, group, first } = await startPaused(source);
    // Same length, other emails.
    writeFileSync(
      join(h.fileRoot, name),
      contactsCsv(ROWS, tag.toUpperCase(), { invalidEvery: INVALID_EVERY }),
    );
    await expectStoppedAtK(
      id,
      group,
      first,
      new RegExp(
        `^the source changed after the import started: batch ${K} \\(lines from \\d+, bytes \\d+-\\d+\\) no longer has the bytes staging read\\.`,
      ),
    );
  }, 180_000);

  it("an http source with a new ETag: If-Range answers the whole new file, and the job stops there", async () => {
    const path = `/${uid()}.csv`;
    files.set(path, {
      body: Buffer.from(contactsCsv(ROWS, uid(), { invalidEvery: INVALID_EVERY })),
      etag: '"v1"',
    });
    const { id, group, first } = await startPaused(`${server.url}${path}`);
    files.set(path, {
      body: Buffer.from(contactsCsv(ROWS, uid(), { invalidEvery: INVALID_EVERY })),
      etag: '"v2"',
    });
    await expectStoppedAtK(id, group, first, /now answers with "v2" instead of "v1"/);
  }, 180_000);
});
