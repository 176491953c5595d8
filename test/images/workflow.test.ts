// The workflow on the real durable store, run by real worker processes on a database of its own:
// fan-out timing, independent retries, permanent failures, duplicate starts, and the OpenAI client
// driven through the workflow against a loopback Images API.
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePng } from "../../functions/images/png.ts";
import { dropDatabase, freshDatabase, pool as makePool } from "../support/db.ts";
import {
  imageRows,
  insertRequest,
  isStored,
  removeStoredImages,
  requestRow,
  starter,
  stylesOverlapped,
  waitFor,
  waitForFinal,
} from "../support/images/harness.ts";
import { decodePng } from "../support/images/png-decode.ts";
import { startWorker, type WorkerProcess } from "../support/worker.ts";

const DB = "images_workflow_test";
const GROUP = `images-wf-${process.pid}`;
const OPENAI_GROUP = `images-openai-${process.pid}`;

let url: string;
let pool: pg.Pool;
let worker: WorkerProcess;
let client: ReturnType<typeof starter>;

beforeAll(async () => {
  url = await freshDatabase(DB);
  pool = makePool(url);
  // Teardown drops the database with force, which can reach an idle connection before pool.end() has closed it.
  pool.on("error", () => {});
  worker = startWorker({
    DATABASE_URL: url,
    RESONATE_GROUP: GROUP,
    IMAGES_RETRY_DELAY_MS: "50",
    IMAGES_MAX_RETRIES: "3",
    IMAGES_SIMULATED_LATENCY_MS: "50",
  });
  await worker.waitForOutput('"event":"started"');
  client = starter(url, GROUP);
});

afterAll(async () => {
  await worker?.kill();
  await client?.resonate.stop();
  if (pool) await removeStoredImages(pool);
  await pool?.end();
  await dropDatabase(DB);
});

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("generateImages", () => {
  it("runs the styles in parallel and stores a distinct real PNG per style", async () => {
    const id = await insertRequest(pool, {
      prompt: "a lighthouse at dusk",
      options: { latency_ms: { photorealistic: 300, cartoon: 600, abstract: 900 } },
    });
    const t = performance.now();
    await client.start(id);
    const req = await waitForFinal(pool, id);
    const wall = performance.now() - t;
    expect(req).toMatchObject({
      status: "succeeded",
      error: null,
      images_total: 3,
      images_succeeded: 3,
      images_failed: 0,
    });
    // The slowest branch alone is 0.9 s. Parallelism is read from the styles' times, not from a
    // wall-clock bound, which a loaded machine stretches.
    expect(wall).toBeGreaterThanOrEqual(900);
    expect(await stylesOverlapped(pool, id)).toBe(true);
    const images = await imageRows(pool, id);
    expect(Object.keys(images)).toEqual(["abstract", "cartoon", "photorealistic"]);
    const hashes = new Set<string>();
    for (const img of Object.values(images)) {
      expect(img).toMatchObject({
        status: "succeeded",
        attempts: 1,
        provider: "simulated",
        width: 256,
        height: 256,
        path: `${id}/${img.style}.png`,
      });
      const res = await fetch(img.url!);
      expect(res.status).toBe(200);
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect(bytes.byteLength).toBe(img.bytes);
      expect(sha256(bytes)).toBe(img.sha256);
      expect(decodePng(bytes)).toMatchObject({ width: 256, height: 256 });
      hashes.add(img.sha256!);
    }
    expect(hashes.size).toBe(3);
  });

  it("retries a transiently failing style on its own while its siblings finish once", async () => {
    const id = await insertRequest(pool, {
      prompt: "a red fox",
      options: { latency_ms: { photorealistic: 100, cartoon: 100, abstract: 100 }, fail: { cartoon: 2 } },
    });
    await client.start(id);
    // While the style retries, the request row says which one and why.
    const retrying = await waitFor("the request to show the retrying style", async () => {
      const r = await requestRow(pool, id);
      return r.status === "running" && r.error ? r : undefined;
    });
    expect(retrying.error).toMatch(/^cartoon: simulated provider failure for style cartoon on attempt [12]/);
    const req = await waitForFinal(pool, id);
    expect(req).toMatchObject({ status: "succeeded", images_succeeded: 3, images_failed: 0 });
    const images = await imageRows(pool, id);
    expect(images.cartoon).toMatchObject({ status: "succeeded", attempts: 3, error: null });
    expect(images.photorealistic).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(images.abstract).toMatchObject({ status: "succeeded", attempts: 1 });
    // The siblings were done before the retried style: they neither waited for it nor ran again.
    expect(images.photorealistic!.finished_at!.getTime()).toBeLessThan(
      images.cartoon!.finished_at!.getTime(),
    );
    expect(images.abstract!.finished_at!.getTime()).toBeLessThan(images.cartoon!.finished_at!.getTime());
    // The overview joins the durable store: the workflow promise resolves just after the row settles.
    const overview = await waitFor("the workflow promise to resolve", async () => {
      const { rows } = await pool.query(
        "select workflow_state, provider_calls from image_requests_overview where id = $1",
        [id],
      );
      return rows[0]?.workflow_state === "resolved" ? rows[0] : undefined;
    });
    expect(overview).toEqual({ workflow_state: "resolved", provider_calls: 5 });
  });

  it("marks permanently failing styles failed and settles the request as partially succeeded", async () => {
    const id = await insertRequest(pool, {
      prompt: "a storm at sea",
      styles: ["photorealistic", "cartoon", "abstract", "neon"],
      options: { fail: { cartoon: "reject", abstract: "always" } },
    });
    await client.start(id);
    const req = await waitForFinal(pool, id);
    expect(req.status).toBe("partially_succeeded");
    expect(req).toMatchObject({ images_total: 4, images_succeeded: 2, images_failed: 2 });
    const images = await imageRows(pool, id);
    // Not retryable: one call. Retryable but never succeeding: the first call plus IMAGES_MAX_RETRIES.
    expect(images.cartoon).toMatchObject({
      status: "failed",
      attempts: 1,
      error: "simulated provider refused style cartoon: rejected by content policy (after 1 provider call)",
    });
    expect(images.abstract).toMatchObject({ status: "failed", attempts: 4 });
    expect(images.abstract!.error).toBe(
      "simulated provider failure for style abstract on attempt 4 (configured: always) (after 4 provider calls)",
    );
    expect(images.photorealistic).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(images.neon).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(req.error).toBe(
      `2 of 4 styles failed: abstract: ${images.abstract!.error}; cartoon: ${images.cartoon!.error}`,
    );
  });

  it("settles the request failed when every style fails", async () => {
    const id = await insertRequest(pool, {
      prompt: "nothing works",
      styles: ["sepia"],
      options: { fail: { sepia: "reject" } },
    });
    await client.start(id);
    const req = await waitForFinal(pool, id);
    expect(req).toMatchObject({ status: "failed", images_succeeded: 0, images_failed: 1 });
    expect(req.error).toMatch(/^1 of 1 styles failed: sepia: simulated provider refused style sepia/);
  });

  it("retry_workflow after a partial failure generates only the failed styles", async () => {
    const id = await insertRequest(pool, {
      prompt: "second chances",
      styles: ["photorealistic", "cartoon"],
      options: { fail: { cartoon: 5 } },
    });
    await client.start(id);
    expect(await waitForFinal(pool, id)).toMatchObject({ status: "partially_succeeded", images_failed: 1 });
    const before = await imageRows(pool, id);
    expect(before.cartoon).toMatchObject({ status: "failed", attempts: 4 });
    // The row settles with the last style's write, a moment before the workflow itself returns.
    await waitFor("the workflow to finish", async () => {
      const { rows } = await pool.query("select state from resonate.promises where id = $1", [
        `images/${id}`,
      ]);
      return rows[0]?.state === "resolved" ? true : undefined;
    });

    const { rows } = await pool.query<{ id: string }>("select public.retry_workflow($1) as id", [
      `images/${id}`,
    ]);
    expect(rows[0]!.id).toBe(`images/${id}/retry-1`);
    const req = await waitFor("the retry to succeed", async () => {
      const r = await requestRow(pool, id);
      return r.status === "succeeded" ? r : undefined;
    });
    expect(req).toMatchObject({ images_succeeded: 2, images_failed: 0, error: null });
    const after = await imageRows(pool, id);
    // Attempts 5 and 6 of the failed style: the 5th still fails, the 6th succeeds.
    expect(after.cartoon).toMatchObject({ status: "succeeded", attempts: 6, error: null });
    expect(after.photorealistic).toMatchObject({ attempts: 1, sha256: before.photorealistic!.sha256 });
  });

  it("cancel closes the request; a style still generating does not change it afterwards", async () => {
    const id = await insertRequest(pool, {
      prompt: "stop halfway",
      styles: ["photorealistic", "cartoon"],
      options: { latency_ms: { photorealistic: 50, cartoon: 2_500 } },
    });
    await client.start(id);
    await waitFor("the fast style", async () => {
      const imgs = await imageRows(pool, id);
      return imgs.photorealistic?.status === "succeeded" && imgs.cartoon?.status === "running"
        ? true
        : undefined;
    });
    const { rows } = await pool.query<{ n: number }>("select public.cancel_workflow($1) as n", [
      `images/${id}`,
    ]);
    expect(rows[0]!.n).toBeGreaterThanOrEqual(1);
    const expected = {
      status: "partially_succeeded",
      images_succeeded: 1,
      images_failed: 1,
      error: "canceled with cancel_workflow: 1 of 2 styles were generated; retry_workflow generates the rest",
    };
    expect(await requestRow(pool, id)).toMatchObject(expected);
    expect((await imageRows(pool, id)).cartoon).toMatchObject({ status: "failed", error: "canceled" });
    // Progress counts images made: one of two, not the canceled style as well.
    const run = await pool.query(
      "select done, total, unit from public.workflow_runs where workflow_id = $1",
      [`images/${id}`],
    );
    expect(run.rows).toEqual([{ done: 1, total: 2, unit: "images" }]);
    // The provider call in flight returns after the cancel; the request keeps what the cancel said,
    // and the image it returned is not stored.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await requestRow(pool, id)).toMatchObject(expected);
    expect((await imageRows(pool, id)).cartoon).toMatchObject({ status: "failed", attempts: 1 });
    expect(await isStored(id, "photorealistic")).toBe(true);
    expect(await isStored(id, "cartoon")).toBe(false);

    await pool.query("select public.retry_workflow($1)", [`images/${id}`]);
    const req = await waitFor("the retry to finish", async () => {
      const r = await requestRow(pool, id);
      return r.status === "succeeded" ? r : undefined;
    });
    expect(req).toMatchObject({ images_succeeded: 2, images_failed: 0 });
    expect((await imageRows(pool, id)).cartoon).toMatchObject({ status: "succeeded", attempts: 2 });
    expect(await isStored(id, "cartoon")).toBe(true);
  });

  it("a retry right after a cancel waits for the canceled run's provider call and stores only its own image", async () => {
    const id = await insertRequest(pool, {
      prompt: "cancel then retry at once",
      styles: ["cartoon"],
      options: { latency_ms: { cartoon: 2_000 } },
    });
    await client.start(id);
    await waitFor("the call to be out", async () =>
      (await imageRows(pool, id)).cartoon?.status === "running" ? true : undefined,
    );
    const t = performance.now();
    await pool.query("select public.cancel_workflow($1)", [`images/${id}`]);
    await pool.query("select public.retry_workflow($1)", [`images/${id}`]);
    const req = await waitFor(
      "the retry to finish",
      async () => {
        const r = await requestRow(pool, id);
        return r.status === "succeeded" ? r : undefined;
      },
      20_000,
    );
    // The retry's call began only once the canceled one had returned: two calls' worth of time.
    expect(performance.now() - t).toBeGreaterThan(3_500);
    expect(req).toMatchObject({ images_succeeded: 1, images_failed: 0, error: null });
    expect((await imageRows(pool, id)).cartoon).toMatchObject({
      status: "succeeded",
      attempts: 2,
      owner: `images/${id}/retry-1`,
      caller: null,
    });
    // The worker logs a stored image before the workflow's last steps; its stdout reaches this process
    // through a pipe, which may trail the database by the few milliseconds those steps take.
    const events = await waitFor("the stored image's log line", async () => {
      const lines = worker
        .output()
        .split("\n")
        .filter((l) => l.startsWith("{") && l.includes(id))
        .map((l) => JSON.parse(l) as { event: string; attempt?: number; error?: string });
      return lines.some((e) => e.event === "image stored") ? lines : undefined;
    });
    expect(events.filter((e) => e.event === "image stored").map((e) => e.attempt)).toEqual([2]);
    expect(events.filter((e) => e.event === "image attempt failed").map((e) => [e.attempt, e.error])).toEqual(
      [[1, `image request ${id} was canceled while style cartoon was generated; the image was not stored`]],
    );
  });

  it("starts one workflow however often the same request is started", async () => {
    const id = await insertRequest(pool, {
      prompt: "twice",
      options: { latency_ms: { photorealistic: 200, cartoon: 200, abstract: 200 } },
    });
    await Promise.all([client.start(id), client.start(id), client.start(id)]);
    await waitForFinal(pool, id);
    await client.start(id);
    const images = await imageRows(pool, id);
    expect(Object.values(images).map((i) => i.attempts)).toEqual([1, 1, 1]);
    const { rows } = await pool.query("select id from resonate.promises where id = $1", [`images/${id}`]);
    expect(rows).toHaveLength(1);
  });
});

describe("generateImages with the openai provider", () => {
  let server: Server;
  let openaiWorker: WorkerProcess;
  let openaiClient: ReturnType<typeof starter>;
  const calls: Record<string, number> = {};
  const png = encodePng(8, 8, new Uint8Array(8 * 8 * 3).fill(120));

  beforeAll(async () => {
    server = createServer((req, res) => {
      let raw = "";
      req.on("data", (d) => {
        raw += d;
      });
      req.on("end", () => {
        const style = /Style: (.+)\.$/.exec(JSON.parse(raw).prompt)?.[1] ?? "?";
        calls[style] = (calls[style] ?? 0) + 1;
        res.setHeader("content-type", "application/json");
        if (style === "cartoon" && calls[style] === 1) {
          res.writeHead(429, { "retry-after": "1" });
          return res.end(
            JSON.stringify({
              error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded" },
            }),
          );
        }
        if (style === "abstract") {
          res.writeHead(400);
          return res.end(
            JSON.stringify({
              error: {
                message: "Your request was rejected by our safety system.",
                type: "invalid_request_error",
                code: "content_policy_violation",
              },
            }),
          );
        }
        res.writeHead(200);
        res.end(JSON.stringify({ created: 1, data: [{ b64_json: Buffer.from(png).toString("base64") }] }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    openaiWorker = startWorker({
      DATABASE_URL: url,
      RESONATE_GROUP: OPENAI_GROUP,
      IMAGES_PROVIDER: "openai",
      OPENAI_API_KEY: "sk-loopback",
      OPENAI_BASE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
      IMAGES_RETRY_DELAY_MS: "50",
    });
    await openaiWorker.waitForOutput('"event":"started"');
    openaiClient = starter(url, OPENAI_GROUP);
  });

  afterAll(async () => {
    await openaiWorker?.kill();
    await openaiClient?.resonate.stop();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("retries a 429 after its retry-after and does not retry a content-policy refusal", async () => {
    const id = await insertRequest(pool, { prompt: "a lighthouse" });
    const t = performance.now();
    await openaiClient.start(id);
    const req = await waitForFinal(pool, id);
    expect(req.status).toBe("partially_succeeded");
    expect(calls).toEqual({ photorealistic: 1, cartoon: 2, abstract: 1 });
    const images = await imageRows(pool, id);
    expect(images.cartoon).toMatchObject({
      status: "succeeded",
      attempts: 2,
      provider: "openai",
      width: 8,
      height: 8,
    });
    expect(images.cartoon!.duration_ms).toBeGreaterThanOrEqual(1000);
    expect(performance.now() - t).toBeGreaterThanOrEqual(1000);
    expect(images.photorealistic).toMatchObject({ status: "succeeded", attempts: 1 });
    expect(images.abstract).toMatchObject({
      status: "failed",
      attempts: 1,
      error:
        "openai 400 content_policy_violation: Your request was rejected by our safety system. (after 1 provider call)",
    });
  });
});
