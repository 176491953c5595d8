// `npm run demo images`: inserts an image request the way an app would, waits for the worker to settle
// it, and prints each style's image URL and the gallery URL. Needs the stack and worker (`npm start`).
import pg from "pg";
import { loadConfig } from "../../functions/shared/config.ts";

const FINAL = ["succeeded", "partially_succeeded", "failed"];

export async function demo(): Promise<void> {
  const cfg = loadConfig();
  const client = new pg.Client({ connectionString: cfg.databaseUrl });
  await client.connect();
  try {
    // One style fails its first attempt on purpose (simulated provider), to show an independent retry.
    const prompt = "a lighthouse on a cliff at dusk";
    const { rows } = await client.query<{ id: string }>(
      `insert into image_requests (prompt, styles, options)
       values ($1, '{photorealistic,cartoon,abstract,watercolor}', '{"fail": {"cartoon": 1}}') returning id`,
      [prompt],
    );
    const id = rows[0]!.id;
    console.log(`inserted image request ${id}: "${prompt}" in 4 styles (cartoon fails once, then retries)`);
    const started = Date.now();
    let status = "queued";
    while (!FINAL.includes(status)) {
      if (Date.now() - started > 30_000) {
        throw new Error(
          `request ${id} is still ${status} after 30 s; is the worker running? (npm start, log .stack/logs/worker.log)`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
      status = (
        await client.query<{ status: string }>("select status from image_requests where id = $1", [id])
      ).rows[0]!.status;
    }
    const req = (
      await client.query<{ status: string; error: string | null; duration_ms: number }>(
        "select status, error, duration_ms from image_requests where id = $1",
        [id],
      )
    ).rows[0]!;
    console.log(
      `request ${req.status} in ${req.duration_ms} ms from the insert${req.error ? `: ${req.error}` : ""}`,
    );
    const images = await client.query<{
      style: string;
      status: string;
      attempts: number;
      url: string | null;
      error: string | null;
    }>(
      "select style, status, attempts, url, error from generated_images where request_id = $1 order by style",
      [id],
    );
    for (const img of images.rows) {
      const calls = `${img.attempts} provider call${img.attempts === 1 ? "" : "s"}`;
      console.log(
        `  ${img.style.padEnd(15)} ${img.status.padEnd(10)} ${calls.padEnd(17)} ${img.url ?? img.error}`,
      );
    }
    console.log(`gallery: ${cfg.functionsUrl}/gallery`);
  } finally {
    await client.end();
  }
}
