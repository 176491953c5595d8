// The image workflow's durable steps: start the request, generate one style (call the provider, store the
// PNG, record its metadata), mark a style failed. Each reads its dependencies from its context
// (functions/shared/dependency.ts) and is safe to run again after a crash.
import { createHash } from "node:crypto";
import type { Context } from "@resonatehq/sdk";
import type pg from "pg";
import { dependency } from "../shared/dependency.ts";
import { errorMessage, type Logger } from "../shared/log.ts";
import type { ImagesConfig } from "./config.ts";
import {
  type Attempt,
  beginAttempt,
  endCall,
  markStyleFailed,
  RequestUnusableError,
  recordAttemptError,
  recordSuccess,
  type StoredImage,
  startRequest,
  styleStillRunning,
} from "./db.ts";
import { type ImageProvider, TransientProviderError } from "./provider.ts";
import { imagesRoute } from "./route.ts";
import type { ImageStorage } from "./storage.ts";

export interface ImagesDeps {
  pool: pg.Pool;
  provider: ImageProvider;
  storage: ImageStorage;
  retry: ImagesConfig["retry"];
  log: Logger;
}

/** A provider's retry-after is honoured up to this; beyond it the retry policy's own delay applies. */
const MAX_RETRY_AFTER_MS = 60_000;

export const deps = (ctx: Context) => dependency<ImagesDeps>(ctx, imagesRoute.kind);

export function objectPath(requestId: string, style: string): string {
  return `${requestId}/${style}.png`;
}

/** How often a run waits for an earlier run's provider call for the same style to end. */
const BUSY_POLL_MS = 250;

/** The run of the workflow a step belongs to: `images/<id>` or `images/<id>/retry-<n>`. */
function runOf(ctx: Context): string {
  return ctx.originId;
}

/** Waits while a previous run (one canceled, then retried) still has a provider call out for the style. */
async function claimAttempt(ctx: Context, requestId: string, style: string): Promise<Attempt> {
  const { pool, log } = deps(ctx);
  let waited = false;
  for (;;) {
    const attempt = await beginAttempt(pool, requestId, style, runOf(ctx));
    if (attempt.kind !== "busy") return attempt;
    if (!waited)
      log.info("style waits for an earlier run's provider call", {
        request: requestId,
        style,
        caller: attempt.caller,
      });
    waited = true;
    await new Promise((r) => setTimeout(r, BUSY_POLL_MS));
  }
}

/** One style: call the provider, store the PNG, record its metadata. Safe to run again after a crash. */
export async function generateImage(ctx: Context, requestId: string, style: string): Promise<StoredImage> {
  const { pool, provider, storage, log } = deps(ctx);
  const run = runOf(ctx);
  const attempt = await claimAttempt(ctx, requestId, style);
  if (attempt.kind === "done") return attempt.image;
  if (attempt.kind === "busy") throw new Error("unreachable: claimAttempt waits until the style is free");
  const req = attempt.request;
  const started = performance.now();
  try {
    let img: Awaited<ReturnType<ImageProvider["generate"]>>;
    try {
      img = await provider.generate({
        prompt: req.prompt,
        style,
        attempt: attempt.attempt,
        simulation: req.simulation,
      });
    } finally {
      await endCall(pool, requestId, style, run);
    }
    // Canceled, or taken over by a retry, while the provider worked: store nothing, so no file outlives
    // its failed row and a canceled run's late image never counts.
    if (!(await styleStillRunning(pool, requestId, style, run))) {
      throw new RequestUnusableError(
        `image request ${requestId} was canceled while style ${style} was generated; the image was not stored`,
      );
    }
    const path = objectPath(requestId, style);
    const sha256 = createHash("sha256").update(img.png).digest("hex");
    const url = await storage.put(path, img.png, "image/png");
    const record = {
      path,
      url,
      width: img.width,
      height: img.height,
      bytes: img.png.byteLength,
      sha256,
      provider: provider.name,
    };
    await recordSuccess(pool, requestId, style, run, record);
    log.info("image stored", {
      request: requestId,
      style,
      attempt: attempt.attempt,
      ms: Math.round(performance.now() - started),
    });
    return { style, path, url, bytes: record.bytes, sha256 };
  } catch (err) {
    log.warn("image attempt failed", {
      request: requestId,
      style,
      attempt: attempt.attempt,
      error: errorMessage(err),
    });
    await recordAttemptError(pool, requestId, style, run, errorMessage(err));
    if (err instanceof TransientProviderError && err.retryAfterMs) {
      await new Promise((r) => setTimeout(r, Math.min(err.retryAfterMs ?? 0, MAX_RETRY_AFTER_MS)));
    }
    throw err;
  }
}

export async function startStep(ctx: Context, requestId: string): Promise<string[]> {
  return startRequest(deps(ctx).pool, requestId, runOf(ctx));
}

export async function failStyleStep(
  ctx: Context,
  requestId: string,
  style: string,
  message: string,
): Promise<void> {
  await markStyleFailed(deps(ctx).pool, requestId, style, runOf(ctx), message);
}
