// The whole path on the shared stack, as a user meets it: INSERT -> trigger -> net.http_post ->
// images-webhook Edge Function -> worker -> tables and Storage -> gallery page in headless Chromium.
// Uses the shared `postgres` database with fresh request ids, and its own worker in group "workers".
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STACK_DIR } from "../../scripts/stack/layout.ts";
import { launchChromium } from "../support/chromium.ts";
import { DB_URL, pool as makePool } from "../support/db.ts";
import {
  imageRows,
  insertRequest,
  requestRow,
  stylesOverlapped,
  waitFor,
  waitForFinal,
} from "../support/images/harness.ts";
import { decodePng, pixelStats } from "../support/images/png-decode.ts";
import { startWorker, type WorkerProcess } from "../support/worker.ts";

let pool: pg.Pool;
let worker: WorkerProcess;
const functionsUrl = () => process.env.FUNCTIONS_URL!;

beforeAll(async () => {
  pool = makePool(DB_URL);
  worker = startWorker({ IMAGES_RETRY_DELAY_MS: "50" });
  await worker.waitForOutput('"event":"started"');
});

afterAll(async () => {
  await worker?.kill();
  await pool?.end();
});

/** What the pg_net stand-in recorded for the webhook of this request. */
async function webhookResponse(id: string): Promise<{ status_code: number; content: string }> {
  return waitFor(`the webhook response for ${id}`, async () => {
    const { rows } = await pool.query<{ status_code: number; content: string }>(
      "select status_code, content from net._http_response where content like $1 order by id desc limit 1",
      [`%${id}%`],
    );
    return rows[0];
  });
}

describe("images end to end", () => {
  let finishedId: string;

  it("runs 300/600/900 ms styles in parallel, straight from the insert", async () => {
    // The first request after a reload also pays for the Edge Function's connections; it is not the
    // one measured.
    const warm = await insertRequest(pool, {
      prompt: "warm-up",
      styles: ["pixel-art"],
      options: { latency_ms: { "pixel-art": 0 } },
    });
    await waitForFinal(pool, warm);

    const id = await insertRequest(pool, {
      prompt: "a lighthouse at dusk, end to end",
      options: { latency_ms: { photorealistic: 300, cartoon: 600, abstract: 900 } },
    });
    const req = await waitForFinal(pool, id);
    expect(req.status).toBe("succeeded");
    const fromInsert = req.finished_at!.getTime() - req.created_at.getTime();
    console.log(`end to end, insert to settled: ${fromInsert} ms (slowest branch 900 ms)`);
    // The column rounds microseconds; JavaScript dates truncate them to milliseconds.
    expect(Math.abs(req.duration_ms! - fromInsert)).toBeLessThanOrEqual(1);
    expect(fromInsert).toBeGreaterThanOrEqual(900);
    // Straight from the insert: the webhook starts the workflow at once (a lost delivery would wait for
    // the backstop's minutes). Coarse, since a loaded machine stretches every step; BENCHMARKS.md has the
    // latency itself (bench:images).
    expect(fromInsert).toBeLessThan(5_000);
    // In parallel: every style's provider call started before the first one ended.
    expect(await stylesOverlapped(pool, id)).toBe(true);
    expect(JSON.parse((await webhookResponse(id)).content)).toEqual({ workflow_id: `images/${id}` });
    const images = await imageRows(pool, id);
    for (const img of Object.values(images)) {
      expect(img).toMatchObject({ status: "succeeded", attempts: 1 });
      expect((await fetch(img.url!)).status).toBe(200);
    }
    finishedId = id;
  });

  it("starts one workflow when the same webhook is delivered again", async () => {
    const { rows } = await pool.query("select to_jsonb(r) as record from image_requests r where id = $1", [
      finishedId,
    ]);
    const body = JSON.stringify({
      type: "INSERT",
      table: "image_requests",
      schema: "public",
      record: rows[0].record,
      old_record: null,
    });
    const post = () =>
      fetch(`${functionsUrl()}/images-webhook`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${process.env.WEBHOOK_SECRET}`,
        },
        body,
      });
    const answers = await Promise.all([post(), post()]);
    for (const res of answers) {
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ workflow_id: `images/${finishedId}` });
    }
    // Give a second workflow, were one started, time to call the provider.
    await new Promise((r) => setTimeout(r, 500));
    expect(Object.values(await imageRows(pool, finishedId)).map((i) => i.attempts)).toEqual([1, 1, 1]);
    const { rows: promises } = await pool.query("select id from resonate.promises where id = $1", [
      `images/${finishedId}`,
    ]);
    expect(promises).toHaveLength(1);
  });

  it("answers bad input with a 400 that says what is wrong and marks the row failed", async () => {
    const cases = [
      { req: { prompt: "" }, error: "prompt is empty; describe the image to generate" },
      {
        req: { prompt: "x", styles: ["cartoon", "oil-paint"] },
        error: 'unknown style(s) "oil-paint"; choose from',
      },
      {
        req: {
          prompt: "x",
          styles: ["photorealistic", "cartoon", "abstract", "watercolor", "pixel-art", "line-art", "neon"],
        },
        error: "too many styles (7); at most 6 per request",
      },
      { req: { prompt: "y".repeat(4001) }, error: "prompt is 4001 characters; the limit is 4000" },
    ];
    for (const c of cases) {
      const id = await insertRequest(pool, c.req);
      const res = await webhookResponse(id);
      expect(res.status_code).toBe(400);
      expect(JSON.parse(res.content).error).toContain(c.error);
      const row = await waitFor(`row ${id} to be marked failed`, async () => {
        const r = await requestRow(pool, id);
        return r.status === "failed" ? r : undefined;
      });
      expect(row.error).toContain(c.error);
      expect(row.finished_at).not.toBeNull();
      const { rows } = await pool.query("select id from resonate.promises where id = $1", [`images/${id}`]);
      expect(rows).toHaveLength(0);
    }
  });

  it("shows the requests in the gallery page, rendered in headless Chromium", async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
      const res = await page.goto(`${functionsUrl()}/gallery?limit=8`, { waitUntil: "networkidle" });
      expect(res?.status()).toBe(200);
      const section = page.locator(`section:has(code:text("images/${finishedId}"))`);
      expect(await section.locator("img").count()).toBe(3);
      const loaded = await section
        .locator("img")
        .evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).naturalWidth));
      expect(loaded).toEqual([256, 256, 256]);
      expect(await page.locator("section[data-status=failed] .error").first().textContent()).toBeTruthy();
      const shot = await page.screenshot({ fullPage: false });
      writeFileSync(join(STACK_DIR, "gallery-screenshot.png"), shot);
      const img = decodePng(new Uint8Array(shot));
      expect([img.width, img.height]).toEqual([1100, 900]);
      const stats = pixelStats(img);
      // A blank or unstyled page has a handful of colours; three rendered images bring thousands.
      expect(stats.colors).toBeGreaterThan(500);
      expect(stats.nonWhite).toBeGreaterThan(0.2);
    } finally {
      await browser.close();
    }
  });
});
