// The durable crawl, orchestration only: `crawlCorpus` plans the run, begins one `crawlSource` sub-run per
// due source (all begun before any is awaited, with a local or network timeout tier), records each
// source's outcome, then runs the index pass as its last durable step. Listed sources list in one step
// and fetch each item in its own step, so after a crash nothing that finished is fetched again. The steps
// (steps.ts) pass ids and counts only.
import { type Context, Exponential } from "@resonatehq/sdk";
import { errorMessage } from "../shared/log.ts";
import type { ProcessResult } from "./process.ts";
import { SourceConfigError } from "./sources/config.ts";
import {
  crawlFlat,
  failSource,
  fetchItem,
  finishRun,
  finishSource,
  type ItemResult,
  indexRun,
  listItems,
  markCrawled,
  planRun,
  type SourceOutcome,
  startSource,
} from "./steps.ts";

export const LOCAL_SOURCE_TIMEOUT_MS = 60_000;
export const NETWORK_SOURCE_TIMEOUT_MS = 5 * 60_000;

export interface RunOutcome extends Partial<ProcessResult> {
  runId: string;
  status: "succeeded" | "failed";
  sources: number;
  sourcesFailed: number;
  itemsFailed: number;
}

// Database and network hiccups inside a step are retried a few times; a step that still fails fails its
// source (recorded), never the run.
const STEP_RETRY = new Exponential({ delay: 500, factor: 2, maxRetries: 3, maxDelay: 5_000 });
// A source's config error stays the same however often it is read: the source fails at once.
const SOURCE_STEP = { retryPolicy: STEP_RETRY, nonRetryableErrors: [SourceConfigError] };

export function* crawlSource(
  ctx: Context,
  runId: string,
  sourceId: number,
): Generator<unknown, SourceOutcome, unknown> {
  const outcome: SourceOutcome = {
    sourceId,
    status: "succeeded",
    listed: 0,
    fetched: 0,
    failed: 0,
    rolledOver: 0,
    staged: 0,
  };
  try {
    const src = yield* ctx.run(startSource, runId, sourceId, ctx.options(SOURCE_STEP));
    if (!src.network) {
      const r = yield* ctx.run(crawlFlat, runId, sourceId, ctx.options(SOURCE_STEP));
      // A step recorded before flat sources counted failed files has no `failed`: none were.
      Object.assign(outcome, {
        listed: r.listed,
        fetched: r.staged,
        failed: r.failed ?? 0,
        staged: r.staged,
      });
    } else {
      const list = yield* ctx.run(listItems, runId, sourceId, ctx.options(SOURCE_STEP));
      Object.assign(outcome, { listed: list.listed, rolledOver: list.rolledOver });
      // Waves of `concurrency` item sub-runs: each wave is begun in full before any is awaited.
      for (let i = 0; i < list.keys.length; i += src.concurrency) {
        const wave = [];
        for (const key of list.keys.slice(i, i + src.concurrency)) {
          wave.push(yield* ctx.beginRun(fetchItem, runId, sourceId, key, ctx.options(SOURCE_STEP)));
        }
        for (const handle of wave) {
          const r: ItemResult = yield* handle;
          if (r.ok) {
            outcome.fetched++;
            outcome.staged++;
          } else {
            outcome.failed++;
          }
        }
      }
    }
  } catch (err) {
    yield* ctx.run(failSource, runId, sourceId, errorMessage(err), ctx.options({ retryPolicy: STEP_RETRY }));
    return { ...outcome, status: "failed" };
  }
  yield* ctx.run(finishSource, runId, outcome, ctx.options({ retryPolicy: STEP_RETRY }));
  return outcome;
}

export function* crawlCorpus(
  ctx: Context,
  runId: string,
  force = false,
  trigger = "manual",
): Generator<unknown, RunOutcome, unknown> {
  const planned = yield* ctx.run(planRun, runId, force, trigger, ctx.options({ retryPolicy: STEP_RETRY }));
  const running = [];
  for (const s of planned) {
    const timeout = s.network ? NETWORK_SOURCE_TIMEOUT_MS : LOCAL_SOURCE_TIMEOUT_MS;
    running.push({
      s,
      handle: yield* ctx.beginRun(crawlSource, runId, s.sourceId, ctx.options({ timeout })),
    });
  }
  for (const { s, handle } of running) {
    try {
      yield* handle;
    } catch (err) {
      // A timed-out or crashed source is recorded; the run goes on with the others.
      yield* ctx.run(
        failSource,
        runId,
        s.sourceId,
        errorMessage(err),
        ctx.options({ retryPolicy: STEP_RETRY }),
      );
    }
  }
  const crawl = yield* ctx.run(markCrawled, runId, ctx.options({ retryPolicy: STEP_RETRY }));
  let indexed: ProcessResult;
  try {
    indexed = yield* ctx.run(indexRun, runId, ctx.options({ retryPolicy: STEP_RETRY }));
  } catch (err) {
    // Staging stays: the next trigger (or `processAfterCrawl`) runs the index pass on the same rows.
    yield* ctx.run(
      finishRun,
      runId,
      `indexing failed: ${errorMessage(err)}`,
      ctx.options({ retryPolicy: STEP_RETRY }),
    );
    return { runId, status: "failed", sources: planned.length, ...crawl };
  }
  const status = yield* ctx.run(finishRun, runId, null, ctx.options({ retryPolicy: STEP_RETRY }));
  return { runId, status, sources: planned.length, ...crawl, ...indexed };
}
