// The durable workflow `images/<request id>`, orchestration only: fan out one local branch per style, then
// wait for each. Each branch carries its own retry policy, so a failing style retries inside its branch
// while its siblings finish; a branch that fails for good is caught here and only marks its own style
// failed. Arguments and results are ids, style names and counts; pixels go to storage, metadata to tables.
import type { Context } from "@resonatehq/sdk";
import { Exponential } from "@resonatehq/sdk";
import { errorMessage } from "../shared/log.ts";
import { outcomeOf, type RequestOutcome, RequestUnusableError } from "./db.ts";
import { PermanentProviderError } from "./provider.ts";
import { deps, failStyleStep, generateImage, startStep } from "./steps.ts";
import { isRequestId } from "./validate.ts";

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
