// Shared pieces of the images integration tests: a database of their own, requests inserted as a user
// would, a Resonate client that starts workflows the way the Edge Function does, polling helpers, and
// the stack's Storage (through supabase-js, as the worker writes it).
import type { Resonate } from "@resonatehq/sdk";
import { createClient } from "@supabase/supabase-js";
import type pg from "pg";
import { loadImagesConfig } from "../../../functions/images/config.ts";
import { objectPath } from "../../../functions/images/steps.ts";
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

/** Whether the request's styles ran in parallel: every provider call started before the first one ended
 *  (run one after another, each would start after the previous one ended). */
export async function stylesOverlapped(pool: pg.Pool, id: string): Promise<boolean> {
  const { rows } = await pool.query<{ overlap: boolean }>(
    "select max(started_at) < min(finished_at) as overlap from public.generated_images where request_id = $1",
    [id],
  );
  return rows[0]!.overlap;
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

/** The bucket the stack's workers store images in, with the service role key they use. */
function imagesBucket() {
  const client = createClient(process.env.SUPABASE_URL!, process.env.SUPABASE_SERVICE_ROLE_KEY!, {
    auth: { persistSession: false },
  });
  return client.storage.from(loadImagesConfig().bucket);
}

/** Whether the image of one style is in Storage, asked the way the gallery asks: its public URL. */
export async function isStored(requestId: string, style: string): Promise<boolean> {
  const res = await fetch(imagesBucket().getPublicUrl(objectPath(requestId, style)).data.publicUrl);
  await res.body?.cancel();
  return res.ok;
}

/** Removes from the stack's Storage every image a test database's requests may have stored. */
export async function removeStoredImages(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query<{ id: string; styles: string[] }>(
    "select id, styles from image_requests",
  );
  const paths = rows.flatMap((r) => r.styles.map((style) => objectPath(r.id, style)));
  // The Storage API removes at most 1000 objects per call.
  for (let i = 0; i < paths.length; i += 1000) {
    const { error } = await imagesBucket().remove(paths.slice(i, i + 1000));
    if (error) throw new Error(`removing stored images failed: ${error.message}`);
  }
}
