// Shared pieces of the images integration tests: a database of their own, requests inserted as a user
// would, a Resonate client that starts workflows the way the Edge Function does, and polling helpers.
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Resonate } from "@resonatehq/sdk";
import type pg from "pg";
import { loadConfig } from "../../../functions/shared/config.ts";
import { createResonate, toWorkers } from "../../../functions/shared/resonate-client.ts";

export const FINAL = ["succeeded", "partially_succeeded", "failed"];

export interface RequestRow {
  id: string;
  status: string;
  error: string | null;
  images_total: number | null;
  images_succeeded: number;
  images_failed: number;
  created_at: Date;
  finished_at: Date | null;
  duration_ms: number | null;
}

export interface ImageRow {
  style: string;
  status: string;
  attempts: number;
  error: string | null;
  path: string | null;
  url: string | null;
  sha256: string | null;
  bytes: number | null;
  width: number | null;
  height: number | null;
  provider: string | null;
  duration_ms: number | null;
  finished_at: Date | null;
}

export async function insertRequest(
  pool: pg.Pool,
  req: { prompt: string; styles?: string[]; options?: Record<string, unknown> },
): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `insert into image_requests (prompt, styles, options)
     values ($1, coalesce($2::text[], '{photorealistic,cartoon,abstract}'), coalesce($3::jsonb, '{}'))
     returning id`,
    [req.prompt, req.styles ?? null, req.options ? JSON.stringify(req.options) : null],
  );
  return rows[0]!.id;
}

export async function requestRow(pool: pg.Pool, id: string): Promise<RequestRow> {
  const { rows } = await pool.query<RequestRow>("select * from image_requests where id = $1", [id]);
  return rows[0]!;
}

export async function imageRows(pool: pg.Pool, id: string): Promise<Record<string, ImageRow>> {
  const { rows } = await pool.query<ImageRow>(
    "select * from generated_images where request_id = $1 order by style",
    [id],
  );
  return Object.fromEntries(rows.map((r) => [r.style, r]));
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  everyMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function waitForFinal(pool: pg.Pool, id: string, timeoutMs = 20_000): Promise<RequestRow> {
  return waitFor(
    `request ${id} to settle`,
    async () => {
      const r = await requestRow(pool, id);
      return r && FINAL.includes(r.status) ? r : undefined;
    },
    timeoutMs,
  );
}

/** Starts workflows on `workerGroup` the way the images-webhook function does: beginRpc with id images/<id>. */
export function starter(
  databaseUrl: string,
  workerGroup: string,
): { resonate: Resonate; start(id: string): Promise<void> } {
  const cfg = loadConfig();
  const resonate = createResonate({
    databaseUrl,
    resonate: { ...cfg.resonate, serverUrl: undefined },
    group: `${workerGroup}-client`,
  });
  const opts = toWorkers(resonate, workerGroup);
  return {
    resonate,
    async start(id) {
      await resonate.beginRpc(`images/${id}`, "generateImages", id, opts);
    },
  };
}

/** Deletes the files a test database's requests wrote to the shared Storage folder. */
export async function removeStoredImages(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ id: string }>("select id from image_requests");
  const dir = join(process.env.STORAGE_DIR!, "images");
  await Promise.all(rows.map((r) => rm(join(dir, r.id), { recursive: true, force: true })));
}
