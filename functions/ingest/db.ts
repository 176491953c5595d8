// The ingest workload's SQL, except the index pass's (process.ts) and staging's (staging.ts). Every write
// is keyed by the run, the source or the item and safe to repeat, so a step re-executed after a crash
// changes nothing its first execution already wrote.
import type pg from "pg";
import { storableText } from "../shared/pg-text.ts";

type Queryable = Pick<pg.Pool, "query">;

export interface SourceRow {
  id: number;
  kind: string;
  name: string;
  config: unknown;
}

export interface RunSourceCounts {
  sourceId: number;
  status: "succeeded" | "failed";
  listed: number;
  fetched: number;
  failed: number;
  rolledOver: number;
  staged: number;
}

export async function loadSourceRow(db: Queryable, sourceId: number): Promise<SourceRow | undefined> {
  const { rows } = await db.query<SourceRow>(
    "select id, kind, name, config from public.ingest_sources where id = $1",
    [sourceId],
  );
  return rows[0];
}

// The run's row is the workflow's own: the trigger starts the workflow before it records anything, so a
// trigger that dies halfway leaves no row without a workflow.
export async function beginRun(db: Queryable, runId: string, force: boolean, trigger: string): Promise<void> {
  await db.query(
    `insert into public.ingest_runs (id, status, forced, trigger, started_at) values ($1, 'crawling', $2, $3, now())
     on conflict (id) do update set status = 'crawling', started_at = coalesce(ingest_runs.started_at, now())`,
    [runId, force, trigger],
  );
}

// The cadence gate: a source crawled less than ~one cadence ago skips this run (90% so a nightly job that
// fires a little early still counts as due).
export async function enabledSources(
  db: Queryable,
  force: boolean,
): Promise<{ id: number; kind: string; due: boolean }[]> {
  const { rows } = await db.query<{ id: string; kind: string; due: boolean }>(
    `select id, kind, ($1 or last_crawled_at is null or last_crawled_at + cadence * 0.9 <= now()) as due
       from public.ingest_sources where enabled order by id`,
    [force],
  );
  return rows.map((r) => ({ id: Number(r.id), kind: r.kind, due: r.due }));
}

export async function markSourceSkipped(db: Queryable, runId: string, sourceId: number): Promise<void> {
  await db.query(
    `insert into public.ingest_run_sources (run_id, source_id, status, finished_at) values ($1, $2, 'skipped', now())
     on conflict do nothing`,
    [runId, sourceId],
  );
}

export async function setSourcesTotal(db: Queryable, runId: string, total: number): Promise<void> {
  await db.query("update public.ingest_runs set sources_total = $2 where id = $1", [runId, total]);
}

export async function markSourceRunning(db: Queryable, runId: string, sourceId: number): Promise<void> {
  await db.query(
    `insert into public.ingest_run_sources (run_id, source_id, status) values ($1, $2, 'running')
     on conflict (run_id, source_id) do nothing`,
    [runId, sourceId],
  );
}

// ingest_items is the source's current upstream listing: what this run lists is upserted, and what it no
// longer lists has vanished upstream.
export async function recordListing(
  db: Queryable,
  runId: string,
  sourceId: number,
  items: { key: string; url: string | null }[],
): Promise<void> {
  await db.query(
    `insert into public.ingest_items (source_id, item_key, url, listed_run_id)
     select $1, k, u, $2 from unnest($3::text[], $4::text[]) as t(k, u)
     on conflict (source_id, item_key) do update set url = excluded.url, listed_run_id = excluded.listed_run_id`,
    [sourceId, runId, items.map((i) => i.key), items.map((i) => i.url)],
  );
  await db.query("delete from public.ingest_items where source_id = $1 and listed_run_id <> $2", [
    sourceId,
    runId,
  ]);
}

/** Every item of the run's listing but those that failed in it (recorded in ingest_item_errors). */
export async function markListingFetched(db: Queryable, runId: string, sourceId: number): Promise<void> {
  await db.query(
    `update public.ingest_items i set fetched_run_id = $2, fetched_at = now()
      where i.source_id = $1 and i.listed_run_id = $2
        and not exists (select from public.ingest_item_errors e
                         where e.run_id = $2 and e.source_id = $1 and e.item_key = i.item_key)`,
    [sourceId, runId],
  );
}

// The cap with rollover: never-tried items first, then the least recently tried. A failed fetch counts as
// a try, so items that keep failing take their turn instead of filling every run.
export async function itemsToFetch(
  db: Queryable,
  runId: string,
  sourceId: number,
  max: number,
): Promise<string[]> {
  const { rows } = await db.query<{ item_key: string }>(
    `select i.item_key from public.ingest_items i
       left join lateral (
         select max(e.at) as at from public.ingest_item_errors e
          where e.source_id = i.source_id and e.item_key = i.item_key
       ) failed on true
      where i.source_id = $1 and i.listed_run_id = $2
      order by greatest(i.fetched_at, failed.at) nulls first, i.item_key limit $3`,
    [sourceId, runId, max],
  );
  return rows.map((r) => r.item_key);
}

export async function isStaged(db: Queryable, stagingId: string): Promise<boolean> {
  const { rowCount } = await db.query("select 1 from public.ingest_staging where staging_id = $1", [
    stagingId,
  ]);
  return Boolean(rowCount);
}

export async function itemUrl(db: Queryable, sourceId: number, key: string): Promise<string | undefined> {
  const { rows } = await db.query<{ url: string | null }>(
    "select url from public.ingest_items where source_id = $1 and item_key = $2",
    [sourceId, key],
  );
  return rows[0]?.url ?? undefined;
}

export async function markItemFetched(
  db: Queryable,
  runId: string,
  sourceId: number,
  key: string,
): Promise<void> {
  await db.query(
    "update public.ingest_items set fetched_run_id = $3, fetched_at = now() where source_id = $1 and item_key = $2",
    [sourceId, key, runId],
  );
}

export async function recordItemError(
  db: Queryable,
  runId: string,
  sourceId: number,
  key: string,
  message: string,
): Promise<void> {
  await db.query(
    `insert into public.ingest_item_errors (run_id, source_id, item_key, error) values ($1, $2, $3, $4)
     on conflict (run_id, source_id, item_key) do update set error = excluded.error, at = now()`,
    [runId, sourceId, key, storableText(message)],
  );
}

export async function finishRunSource(db: Queryable, runId: string, o: RunSourceCounts): Promise<void> {
  await db.query(
    `update public.ingest_run_sources set status = $3, listing_complete = ($3 = 'succeeded'), listed = $4,
            fetched = $5, failed = $6, rolled_over = $7, staged = $8, finished_at = now()
      where run_id = $1 and source_id = $2`,
    [runId, o.sourceId, o.status, o.listed, o.fetched, o.failed, o.rolledOver, o.staged],
  );
  await db.query("update public.ingest_sources set last_crawled_at = now() where id = $1", [o.sourceId]);
}

// A source deleted mid-crawl took its rows with it (they cascade) and has none to record: an insert
// would violate the foreign key on every retry and fail the whole run.
export async function failRunSource(
  db: Queryable,
  runId: string,
  sourceId: number,
  message: string,
): Promise<void> {
  await db.query(
    `insert into public.ingest_run_sources (run_id, source_id, status, error, finished_at)
     select $1, $2, 'failed', $3, now() where exists (select from public.ingest_sources where id = $2)
     on conflict (run_id, source_id) do update set status = 'failed', listing_complete = false,
       error = excluded.error, finished_at = now()`,
    [runId, sourceId, storableText(message)],
  );
}

export async function markRunCrawled(
  db: Queryable,
  runId: string,
): Promise<{ sourcesFailed: number; itemsFailed: number }> {
  const { rows } = await db.query<{ sources_failed: number; items_failed: number }>(
    `update public.ingest_runs set status = 'indexing', crawled_at = now(),
            sources_failed = (select count(*) from public.ingest_run_sources where run_id = $1 and status = 'failed'),
            items_failed = (select count(*) from public.ingest_item_errors where run_id = $1)
      where id = $1 returning sources_failed, items_failed`,
    [runId],
  );
  return { sourcesFailed: rows[0]?.sources_failed ?? 0, itemsFailed: rows[0]?.items_failed ?? 0 };
}

// A failing source never stops the others, but the run says so: its error counts the failures, and a run
// whose every source failed indexed nothing new, so it is `failed`.
export async function finishRun(
  db: Queryable,
  runId: string,
  error: string | null,
): Promise<{ status: "succeeded" | "failed"; error: string | null }> {
  const { rows } = await db.query<{ status: "succeeded" | "failed"; error: string | null }>(
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
    [runId, error === null ? null : storableText(error)],
  );
  return { status: rows[0]?.status ?? (error ? "failed" : "succeeded"), error: rows[0]?.error ?? error };
}
