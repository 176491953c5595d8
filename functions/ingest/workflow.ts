// The durable crawl. `crawlCorpus` plans the run, begins one `crawlSource` sub-run per due source (all
// begun before any is awaited, with a local or network timeout tier), records each source's outcome, then
// runs the index pass as its last durable step. Listed sources list in one step and fetch each item in its
// own step, so after a crash nothing that finished is fetched again. Steps pass ids and counts only.
import { type Context, Exponential } from "@resonatehq/sdk";
import type pg from "pg";
import { errorMessage, type Logger } from "../shared/log.ts";
import type { Indexer } from "./indexer.ts";
import { type ProcessResult, processAfterCrawl } from "./process.ts";
import { SourceConfigError } from "./sources/config.ts";
import { sourceKind } from "./sources/index.ts";
import type { FlatKind, ListedKind } from "./sources/types.ts";
import { stagingId, toStagingRow, writeStaging } from "./staging.ts";

export const LOCAL_SOURCE_TIMEOUT_MS = 60_000;
export const NETWORK_SOURCE_TIMEOUT_MS = 5 * 60_000;

export interface IngestDeps {
  pool: pg.Pool;
  indexer: Indexer;
  log: Logger;
}

export interface PlannedSource {
  sourceId: number;
  network: boolean;
}

export interface SourceOutcome {
  sourceId: number;
  status: "succeeded" | "failed";
  listed: number;
  fetched: number;
  failed: number;
  rolledOver: number;
  staged: number;
}

export interface RunOutcome extends Partial<ProcessResult> {
  runId: string;
  status: "succeeded" | "failed";
  sources: number;
  sourcesFailed: number;
  itemsFailed: number;
}

interface ListResult {
  keys: string[];
  listed: number;
  rolledOver: number;
}

type ItemResult = { ok: true; stagingId: string } | { ok: false };

// Database and network hiccups inside a step are retried a few times; a step that still fails fails its
// source (recorded), never the run.
const STEP_RETRY = new Exponential({ delay: 500, factor: 2, maxRetries: 3, maxDelay: 5_000 });
// A source's config error stays the same however often it is read: the source fails at once.
const SOURCE_STEP = { retryPolicy: STEP_RETRY, nonRetryableErrors: [SourceConfigError] };

export function ingestWorkflows(deps: IngestDeps) {
  const { pool, log } = deps;

  async function loadSource(sourceId: number) {
    const { rows } = await pool.query(
      "select id, kind, name, config from public.ingest_sources where id = $1",
      [sourceId],
    );
    const row = rows[0];
    if (!row) throw new Error(`source ${sourceId} no longer exists`);
    const kind = sourceKind(row.kind);
    const parsed = kind.parseConfig(row.config);
    if (!parsed.ok) throw new SourceConfigError(`source ${row.name} (${row.kind}): ${parsed.error}`);
    return { kind, config: parsed.value, name: row.name as string };
  }

  async function planRun(
    _ctx: Context,
    runId: string,
    force: boolean,
    trigger: string,
  ): Promise<PlannedSource[]> {
    // The run's row is the workflow's own: the trigger starts the workflow before it records anything, so
    // a trigger that dies halfway leaves no row without a workflow.
    await pool.query(
      `insert into public.ingest_runs (id, status, forced, trigger, started_at) values ($1, 'crawling', $2, $3, now())
       on conflict (id) do update set status = 'crawling', started_at = coalesce(ingest_runs.started_at, now())`,
      [runId, force, trigger],
    );
    // The cadence gate: a source crawled less than ~one cadence ago skips this run (90% so a nightly job
    // that fires a little early still counts as due).
    const { rows } = await pool.query(
      `select id, kind, ($1 or last_crawled_at is null or last_crawled_at + cadence * 0.9 <= now()) as due
         from public.ingest_sources where enabled order by id`,
      [force],
    );
    const due: PlannedSource[] = [];
    for (const r of rows) {
      if (r.due) {
        due.push({ sourceId: Number(r.id), network: sourceKind(r.kind).network });
      } else {
        await pool.query(
          `insert into public.ingest_run_sources (run_id, source_id, status, finished_at) values ($1, $2, 'skipped', now())
           on conflict do nothing`,
          [runId, r.id],
        );
      }
    }
    await pool.query("update public.ingest_runs set sources_total = $2 where id = $1", [runId, rows.length]);
    log.info("run planned", { run_id: runId, due: due.length, skipped: rows.length - due.length });
    return due;
  }

  async function startSource(
    _ctx: Context,
    runId: string,
    sourceId: number,
  ): Promise<{ network: boolean; concurrency: number }> {
    await pool.query(
      `insert into public.ingest_run_sources (run_id, source_id, status) values ($1, $2, 'running')
       on conflict (run_id, source_id) do nothing`,
      [runId, sourceId],
    );
    const { kind, config } = await loadSource(sourceId);
    return {
      network: kind.network,
      concurrency: kind.network ? (kind as ListedKind<unknown>).limits(config).concurrency : 1,
    };
  }

  async function recordListing(
    runId: string,
    sourceId: number,
    items: { key: string; url: string | null }[],
  ) {
    await pool.query(
      `insert into public.ingest_items (source_id, item_key, url, listed_run_id)
       select $1, k, u, $2 from unnest($3::text[], $4::text[]) as t(k, u)
       on conflict (source_id, item_key) do update set url = excluded.url, listed_run_id = excluded.listed_run_id`,
      [sourceId, runId, items.map((i) => i.key), items.map((i) => i.url)],
    );
    // ingest_items is the source's current upstream listing; what is no longer listed has vanished.
    await pool.query("delete from public.ingest_items where source_id = $1 and listed_run_id <> $2", [
      sourceId,
      runId,
    ]);
  }

  async function crawlFlat(
    _ctx: Context,
    runId: string,
    sourceId: number,
  ): Promise<{ listed: number; staged: number }> {
    const { kind, config } = await loadSource(sourceId);
    const docs = await (kind as FlatKind<unknown>).crawl(config);
    await writeStaging(
      pool,
      docs.map((d) => toStagingRow(runId, sourceId, kind.kind, d)),
    );
    await recordListing(
      runId,
      sourceId,
      docs.map((d) => ({ key: d.path, url: d.url })),
    );
    await pool.query(
      "update public.ingest_items set fetched_run_id = $2, fetched_at = now() where source_id = $1 and listed_run_id = $2",
      [sourceId, runId],
    );
    return { listed: docs.length, staged: docs.length };
  }

  async function listItems(_ctx: Context, runId: string, sourceId: number): Promise<ListResult> {
    const { kind, config } = await loadSource(sourceId);
    const listed = kind as ListedKind<unknown>;
    const items = await listed.list(config);
    await recordListing(runId, sourceId, items);
    // The cap with rollover: never-tried items first, then the least recently tried. A failed fetch
    // counts as a try, so items that keep failing take their turn instead of filling every run.
    const { rows } = await pool.query<{ item_key: string }>(
      `select i.item_key from public.ingest_items i
         left join lateral (
           select max(e.at) as at from public.ingest_item_errors e
            where e.source_id = i.source_id and e.item_key = i.item_key
         ) failed on true
        where i.source_id = $1 and i.listed_run_id = $2
        order by greatest(i.fetched_at, failed.at) nulls first, i.item_key limit $3`,
      [sourceId, runId, listed.limits(config).maxItemsPerRun],
    );
    return {
      keys: rows.map((r) => r.item_key),
      listed: items.length,
      rolledOver: items.length - rows.length,
    };
  }

  async function markFetched(runId: string, sourceId: number, key: string): Promise<void> {
    await pool.query(
      "update public.ingest_items set fetched_run_id = $3, fetched_at = now() where source_id = $1 and item_key = $2",
      [sourceId, key, runId],
    );
  }

  async function fetchItem(_ctx: Context, runId: string, sourceId: number, key: string): Promise<ItemResult> {
    // A worker that died after staging the item but before its step was recorded left the row behind:
    // the step re-runs, and finds nothing to fetch again.
    const already = stagingId(runId, sourceId, key);
    const staged = await pool.query("select 1 from public.ingest_staging where staging_id = $1", [already]);
    if (staged.rowCount) {
      await markFetched(runId, sourceId, key);
      return { ok: true, stagingId: already };
    }
    const { kind, config } = await loadSource(sourceId);
    const { rows } = await pool.query<{ url: string }>(
      "select url from public.ingest_items where source_id = $1 and item_key = $2",
      [sourceId, key],
    );
    const url = rows[0]?.url;
    let doc: Awaited<ReturnType<ListedKind<unknown>["fetchItem"]>>;
    try {
      if (!url) throw new Error(`item ${key} has no URL`);
      doc = await (kind as ListedKind<unknown>).fetchItem(config, { key, url });
    } catch (err) {
      await pool.query(
        `insert into public.ingest_item_errors (run_id, source_id, item_key, error) values ($1, $2, $3, $4)
         on conflict (run_id, source_id, item_key) do update set error = excluded.error, at = now()`,
        [runId, sourceId, key, errorMessage(err)],
      );
      log.warn("item failed", { run_id: runId, source_id: sourceId, item: key, error: errorMessage(err) });
      return { ok: false };
    }
    const row = toStagingRow(runId, sourceId, kind.kind, { ...doc, path: key });
    await writeStaging(pool, [row]);
    await markFetched(runId, sourceId, key);
    return { ok: true, stagingId: row.stagingId };
  }

  async function finishSource(_ctx: Context, runId: string, o: SourceOutcome): Promise<void> {
    await pool.query(
      `update public.ingest_run_sources set status = $3, listing_complete = ($3 = 'succeeded'), listed = $4,
              fetched = $5, failed = $6, rolled_over = $7, staged = $8, finished_at = now()
        where run_id = $1 and source_id = $2`,
      [runId, o.sourceId, o.status, o.listed, o.fetched, o.failed, o.rolledOver, o.staged],
    );
    await pool.query("update public.ingest_sources set last_crawled_at = now() where id = $1", [o.sourceId]);
  }

  async function failSource(_ctx: Context, runId: string, sourceId: number, message: string): Promise<void> {
    await pool.query(
      `insert into public.ingest_run_sources (run_id, source_id, status, error, finished_at)
       values ($1, $2, 'failed', $3, now())
       on conflict (run_id, source_id) do update set status = 'failed', listing_complete = false,
         error = excluded.error, finished_at = now()`,
      [runId, sourceId, message],
    );
    log.warn("source failed", { run_id: runId, source_id: sourceId, error: message });
  }

  async function markCrawled(
    _ctx: Context,
    runId: string,
  ): Promise<{ sourcesFailed: number; itemsFailed: number }> {
    const { rows } = await pool.query(
      `update public.ingest_runs set status = 'indexing', crawled_at = now(),
              sources_failed = (select count(*) from public.ingest_run_sources where run_id = $1 and status = 'failed'),
              items_failed = (select count(*) from public.ingest_item_errors where run_id = $1)
        where id = $1 returning sources_failed, items_failed`,
      [runId],
    );
    return { sourcesFailed: rows[0]?.sources_failed ?? 0, itemsFailed: rows[0]?.items_failed ?? 0 };
  }

  function indexRun(_ctx: Context, runId: string): Promise<ProcessResult> {
    return processAfterCrawl(runId, { pool, indexer: deps.indexer, log });
  }

  // A failing source never stops the others, but the run says so: its error counts the failures, and
  // a run whose every source failed indexed nothing new, so it is `failed`.
  async function finishRun(
    _ctx: Context,
    runId: string,
    error: string | null,
  ): Promise<"succeeded" | "failed"> {
    const { rows } = await pool.query<{ status: "succeeded" | "failed"; error: string | null }>(
      `update public.ingest_runs
          set status = case when $2::text is not null or (sources_total > 0 and sources_failed = sources_total)
                            then 'failed' else 'succeeded' end,
              error = coalesce($2::text,
                case when sources_failed > 0 or items_failed > 0 or documents_truncated > 0 then
                  concat_ws(', ',
                    case when sources_failed > 0 then sources_failed || ' of ' || sources_total || ' sources failed' end,
                    case when items_failed > 0 then items_failed || ' items failed' end,
                    case when documents_truncated > 0 then documents_truncated
                      || ' pages indexed only up to INGEST_MAX_CHUNKS_PER_PAGE chunks' end)
                  || '; see ingest_run_sources and ingest_item_errors'
                end),
              finished_at = now()
        where id = $1
        returning status, error`,
      [runId, error],
    );
    const status = rows[0]?.status ?? (error ? "failed" : "succeeded");
    log.info("run finished", { run_id: runId, status, error: rows[0]?.error ?? error });
    return status;
  }

  function* crawlSource(
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
        Object.assign(outcome, { listed: r.listed, fetched: r.staged, staged: r.staged });
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
      yield* ctx.run(
        failSource,
        runId,
        sourceId,
        errorMessage(err),
        ctx.options({ retryPolicy: STEP_RETRY }),
      );
      return { ...outcome, status: "failed" };
    }
    yield* ctx.run(finishSource, runId, outcome, ctx.options({ retryPolicy: STEP_RETRY }));
    return outcome;
  }

  function* crawlCorpus(
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

  return { crawlCorpus };
}
