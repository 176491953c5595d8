// The durable workflow `images/<request id>`: fan out one local branch per style, then wait for each.
// Each branch carries its own retry policy, so a failing style retries inside its branch while its
// siblings finish; a branch that fails for good is caught here and only marks its own style failed.
// Arguments and results are ids, style names and counts; pixels go to storage, metadata to tables.
import { createHash } from "node:crypto";
import type { Context } from "@resonatehq/sdk";
import { Exponential } from "@resonatehq/sdk";
import type pg from "pg";
import { dependency } from "../shared/dependency.ts";
import { errorMessage, type Logger } from "../shared/log.ts";
import type { ImagesConfig } from "./config.ts";
import {
  type Attempt,
  beginAttempt,
  endCall,
  markStyleFailed,
  outcomeOf,
  type RequestOutcome,
  RequestUnusableError,
  recordAttemptError,
  recordSuccess,
  type StoredImage,
  startRequest,
  styleStillRunning,
} from "./db.ts";
import { type ImageProvider, PermanentProviderError, TransientProviderError } from "./provider.ts";
import { imagesRoute } from "./route.ts";
import type { ImageStorage } from "./storage.ts";
import { isRequestId } from "./validate.ts";

export interface ImagesDeps {
  pool: pg.Pool;
  provider: ImageProvider;
  storage: ImageStorage;
  retry: ImagesConfig["retry"];
  log: Logger;
}

/** A provider's retry-after is honoured up to this; beyond it the retry policy's own delay applies. */
const MAX_RETRY_AFTER_MS = 60_000;

const deps = (ctx: Context) => dependency<ImagesDeps>(ctx, imagesRoute.kind);

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

async function startStep(ctx: Context, requestId: string): Promise<string[]> {
  return startRequest(deps(ctx).pool, requestId, runOf(ctx));
}

async function failStyleStep(ctx: Context, requestId: string, style: string, message: string): Promise<void> {
  await markStyleFailed(deps(ctx).pool, requestId, style, runOf(ctx), message);
}

export function* generateImages(
  ctx: Context,
  requestId: string,
): Generator<unknown, RequestOutcome, unknown> {
  if (!isRequestId(requestId))
    throw new RequestUnusableError(
      `workflow argument must be a request UUID, got ${JSON.stringify(requestId)}`,
    );
  const { retry } = deps(ctx);
  const dbStep = ctx.options({
    retryPolicy: new Exponential({ delay: 100, maxRetries: 5, maxDelay: 5_000 }),
    nonRetryableErrors: [RequestUnusableError],
  });
  const styles: string[] = yield* ctx.run(startStep, requestId, dbStep);

  // Exponential waits delay * 2^attempt before retry `attempt` (1-based): halving the base makes the
  // first retry wait exactly IMAGES_RETRY_DELAY_MS.
  const branch = ctx.options({
    retryPolicy: new Exponential({
      delay: retry.delayMs / 2,
      factor: 2,
      maxRetries: retry.maxRetries,
      maxDelay: retry.maxDelayMs,
    }),
    nonRetryableErrors: [PermanentProviderError, RequestUnusableError],
  });
  const handles = [];
  for (const style of styles)
    handles.push({ style, future: yield* ctx.beginRun(generateImage, requestId, style, branch) });

  // Each style's final write settles the request once no style is left open (db.ts), so there is no
  // separate finishing step; the result is counted here from the handles.
  let succeeded = 0;
  let failed = 0;
  for (const { style, future } of handles) {
    try {
      yield* future;
      succeeded++;
    } catch (err) {
      yield* ctx.run(failStyleStep, requestId, style, errorMessage(err), dbStep);
      failed++;
    }
  }
  return outcomeOf(succeeded, failed);
}
