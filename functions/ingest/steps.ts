// The crawl's durable steps. Each reads its dependencies from its context (functions/shared/dependency.ts),
// does its I/O through db.ts, staging.ts and the source kinds, and returns ids and counts only.
import { createHash } from "node:crypto";
import type { Context } from "@resonatehq/sdk";
import type pg from "pg";
import { dependency } from "../shared/dependency.ts";
import { errorMessage, type Logger } from "../shared/log.ts";
import { truncate } from "../shared/truncate.ts";
import * as db from "./db.ts";
import type { Indexer } from "./indexer.ts";
import { type ProcessResult, processAfterCrawl } from "./process.ts";
import { ingestRoute } from "./route.ts";
import { SourceConfigError } from "./sources/config.ts";
import { sourceKind } from "./sources/index.ts";
import type { FlatKind, ListedItem, ListedKind } from "./sources/types.ts";
import { type StagingRow, stagingId, toStagingRow, writeStaging } from "./staging.ts";

export interface IngestDeps {
  pool: pg.Pool;
  indexer: Indexer;
  log: Logger;
}

export interface PlannedSource {
  sourceId: number;
  network: boolean;
}

export type SourceOutcome = db.RunSourceCounts;

export interface ListResult {
  keys: string[];
  listed: number;
  rolledOver: number;
}

export type ItemResult = { ok: true; stagingId: string } | { ok: false };

const deps = (ctx: Context) => dependency<IngestDeps>(ctx, ingestRoute.kind);

/** One item's failure, where the user finds it (ingest_item_errors) and in the log. */
async function itemFailed(
  { pool, log }: Pick<IngestDeps, "pool" | "log">,
  runId: string,
  sourceId: number,
  key: string,
  err: unknown,
): Promise<void> {
  await db.recordItemError(pool, runId, sourceId, key, errorMessage(err));
  log.warn("item failed", { run_id: runId, source_id: sourceId, item: key, error: errorMessage(err) });
}

async function loadSource(pool: pg.Pool, sourceId: number) {
  const row = await db.loadSourceRow(pool, sourceId);
  if (!row) throw new Error(`source ${sourceId} no longer exists`);
  const kind = sourceKind(row.kind);
  const parsed = kind.parseConfig(row.config);
  if (!parsed.ok) throw new SourceConfigError(`source ${row.name} (${row.kind}): ${parsed.error}`);
  return { kind, config: parsed.value, name: row.name };
}

export async function planRun(
  ctx: Context,
  runId: string,
  force: boolean,
  trigger: string,
): Promise<PlannedSource[]> {
  const { pool, log } = deps(ctx);
  await db.beginRun(pool, runId, force, trigger);
  const sources = await db.enabledSources(pool, force);
  const due: PlannedSource[] = [];
  for (const s of sources) {
    if (s.due) due.push({ sourceId: s.id, network: sourceKind(s.kind).network });
    else await db.markSourceSkipped(pool, runId, s.id);
  }
  await db.setSourcesTotal(pool, runId, sources.length);
  log.info("run planned", { run_id: runId, due: due.length, skipped: sources.length - due.length });
  return due;
}

export async function startSource(
  ctx: Context,
  runId: string,
  sourceId: number,
): Promise<{ network: boolean; concurrency: number }> {
  const { pool } = deps(ctx);
  await db.markSourceRunning(pool, runId, sourceId);
  const { kind, config } = await loadSource(pool, sourceId);
  return {
    network: kind.network,
    concurrency: kind.network ? (kind as ListedKind<unknown>).limits(config).concurrency : 1,
  };
}

export async function crawlFlat(
  ctx: Context,
  runId: string,
  sourceId: number,
): Promise<{ listed: number; staged: number; failed: number }> {
  const { pool, log } = deps(ctx);
  const { kind, config } = await loadSource(pool, sourceId);
  const docs = await (kind as FlatKind<unknown>).crawl(config);
  // A document Postgres cannot store (a NUL in a file) fails alone, recorded under its path as a listed
  // item's failure is, and stays listed: its earlier version is kept, the source's other files go on.
  const rows: StagingRow[] = [];
  let failed = 0;
  for (const d of docs) {
    try {
      rows.push(toStagingRow(runId, sourceId, kind.kind, d));
    } catch (err) {
      await itemFailed({ pool, log }, runId, sourceId, d.path, err);
      failed++;
    }
  }
  const staged = await writeStaging(pool, rows);
  if (staged < rows.length) {
    log.warn("run left its crawl; nothing staged", { run_id: runId, source_id: sourceId });
    return { listed: docs.length, staged, failed };
  }
  await db.recordListing(
    pool,
    runId,
    sourceId,
    docs.map((d) => ({ key: d.path, url: d.url })),
  );
  await db.markListingFetched(pool, runId, sourceId);
  return { listed: docs.length, staged, failed };
}

/** An item's key is part of btree keys (ingest_items, staging, documents), which hold at most 2704 bytes;
 *  the sitemap protocol allows URLs of under 2048 characters. */
export const MAX_ITEM_KEY_BYTES = 2000;

export async function listItems(ctx: Context, runId: string, sourceId: number): Promise<ListResult> {
  const { pool } = deps(ctx);
  const { kind, config } = await loadSource(pool, sourceId);
  const listed = kind as ListedKind<unknown>;
  const all = await listed.list(config);
  // One over-long URL would fail the listing's insert, and with it the whole source, every run.
  const items: ListedItem[] = [];
  for (const i of all) {
    const bytes = Buffer.byteLength(i.key);
    if (bytes <= MAX_ITEM_KEY_BYTES) {
      items.push(i);
      continue;
    }
    const digest = createHash("sha256").update(i.key).digest("hex").slice(0, 16);
    await db.recordItemError(
      pool,
      runId,
      sourceId,
      `${truncate(i.key, 200, "…")} (sha256 ${digest})`,
      `the listed URL is ${bytes} bytes long; an item's URL may have at most ${MAX_ITEM_KEY_BYTES}, so it is not indexed`,
    );
  }
  await db.recordListing(pool, runId, sourceId, items);
  const keys = await db.itemsToFetch(pool, runId, sourceId, listed.limits(config).maxItemsPerRun);
  return { keys, listed: all.length, rolledOver: items.length - keys.length };
}

export async function fetchItem(
  ctx: Context,
  runId: string,
  sourceId: number,
  key: string,
): Promise<ItemResult> {
  const { pool, log } = deps(ctx);
  // A worker that died after staging the item but before its step was recorded left the row behind: the
  // step re-runs, and finds nothing to fetch again.
  const already = stagingId(runId, sourceId, key);
  if (await db.isStaged(pool, already)) {
    await db.markItemFetched(pool, runId, sourceId, key);
    return { ok: true, stagingId: already };
  }
  const { kind, config } = await loadSource(pool, sourceId);
  const url = await db.itemUrl(pool, sourceId, key);
  let row: StagingRow;
  try {
    if (!url) throw new Error(`item ${key} has no URL`);
    const doc = await (kind as ListedKind<unknown>).fetchItem(config, { key, url });
    row = toStagingRow(runId, sourceId, kind.kind, { ...doc, path: key });
  } catch (err) {
    await itemFailed({ pool, log }, runId, sourceId, key, err);
    return { ok: false };
  }
  if ((await writeStaging(pool, [row])) === 0) {
    log.warn("run left its crawl; nothing staged", { run_id: runId, source_id: sourceId, item: key });
    return { ok: false };
  }
  await db.markItemFetched(pool, runId, sourceId, key);
  return { ok: true, stagingId: row.stagingId };
}

export async function finishSource(ctx: Context, runId: string, o: SourceOutcome): Promise<void> {
  await db.finishRunSource(deps(ctx).pool, runId, o);
}

export async function failSource(
  ctx: Context,
  runId: string,
  sourceId: number,
  message: string,
): Promise<void> {
  const { pool, log } = deps(ctx);
  await db.failRunSource(pool, runId, sourceId, message);
  log.warn("source failed", { run_id: runId, source_id: sourceId, error: message });
}

export async function markCrawled(
  ctx: Context,
  runId: string,
): Promise<{ sourcesFailed: number; itemsFailed: number }> {
  return db.markRunCrawled(deps(ctx).pool, runId);
}

export function indexRun(ctx: Context, runId: string): Promise<ProcessResult> {
  const { pool, indexer, log } = deps(ctx);
  return processAfterCrawl(runId, { pool, indexer, log });
}

export async function finishRun(
  ctx: Context,
  runId: string,
  error: string | null,
): Promise<"succeeded" | "failed"> {
  const { pool, log } = deps(ctx);
  const done = await db.finishRun(pool, runId, error);
  log.info("run finished", { run_id: runId, status: done.status, error: done.error });
  return done.status;
}
