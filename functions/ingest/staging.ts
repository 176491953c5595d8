// Staging writes: crawled documents become rows keyed by `<run id>/<source id>/<path>`, upserted in
// batches, so a crawl step that re-runs after a crash rewrites the same rows instead of adding new ones.
import { createHash } from "node:crypto";
import type pg from "pg";
import type { CrawledDoc } from "./sources/types.ts";

export interface StagingRow {
  stagingId: string;
  runId: string;
  sourceId: number;
  sourceType: string;
  sourcePath: string;
  url: string | null;
  title: string;
  content: string;
  contentHash: string;
  metadata: Record<string, unknown>;
}

export function stagingId(runId: string, sourceId: number, path: string): string {
  return `${runId}/${sourceId}/${path}`;
}

export function contentHash(content: string): string {
  return createHash("sha256").update(content.replace(/\r\n?/g, "\n").trim()).digest("hex");
}

/** Postgres text cannot hold U+0000, so a document with one would fail its whole staging write. */
export function toStagingRow(
  runId: string,
  sourceId: number,
  sourceType: string,
  doc: CrawledDoc,
): StagingRow {
  if (doc.content.includes("\u0000") || doc.title.includes("\u0000")) {
    throw new Error(
      `${doc.url ?? doc.path} holds NUL characters: it is binary (an image, a PDF) or corrupt, not text, and is not indexed`,
    );
  }
  return {
    stagingId: stagingId(runId, sourceId, doc.path),
    runId,
    sourceId,
    sourceType,
    sourcePath: doc.path,
    url: doc.url,
    title: doc.title,
    content: doc.content,
    contentHash: contentHash(doc.content),
    metadata: doc.metadata,
  };
}

export const STAGING_BATCH = 200;

/**
 * Upserts the rows, all of one run, and says how many were written: none once the run has left its
 * crawl (indexing, succeeded, failed). A crawl step of a worker that was stalled while its run was
 * taken over and finished elsewhere can still reach this when it wakes; its rows would outlive the
 * index pass that empties staging, so they are not written. The run's row is read under a share lock,
 * so a run cannot move on to indexing between that check and the rows' commit.
 */
export async function writeStaging(
  db: pg.Pool | pg.PoolClient,
  rows: StagingRow[],
  batch = STAGING_BATCH,
): Promise<number> {
  let written = 0;
  for (let i = 0; i < rows.length; i += batch) {
    const b = rows.slice(i, i + batch);
    const { rowCount } = await db.query(
      `with run as (select status from public.ingest_runs where id = $11 for share)
       insert into public.ingest_staging
         (staging_id, run_id, source_id, source_type, source_path, url, title, content, content_hash, metadata)
       select * from unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
                            $8::text[], $9::text[], $10::jsonb[])
        where coalesce((select status from run), 'crawling') in ('queued', 'crawling')
       on conflict (staging_id) do update set
         url = excluded.url, title = excluded.title, content = excluded.content,
         content_hash = excluded.content_hash, metadata = excluded.metadata, staged_at = now()`,
      [
        b.map((r) => r.stagingId),
        b.map((r) => r.runId),
        b.map((r) => r.sourceId),
        b.map((r) => r.sourceType),
        b.map((r) => r.sourcePath),
        b.map((r) => r.url),
        b.map((r) => r.title),
        b.map((r) => r.content),
        b.map((r) => r.contentHash),
        b.map((r) => JSON.stringify(r.metadata)),
        b[0]!.runId,
      ],
    );
    written += rowCount ?? 0;
  }
  return written;
}
