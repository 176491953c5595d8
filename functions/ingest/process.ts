// The index pass, plain async code over staging rows at rest (not durable by design): dedup, chunk, embed,
// upsert documents and chunks, skip unchanged documents, drop vanished ones, then delete the run's staging
// rows. Every write is keyed by (source, path), so running it again on the same rows after a crash
// converges on the same index; staging is deleted only at the very end, in the same transaction as the
// run's counts.
import type pg from "pg";
import type { Logger } from "../shared/log.ts";
import { type ChunkOptions, chunkMarkdown, DEFAULT_CHUNK_OPTIONS, embeddingText } from "./chunk.ts";
import { type DedupCandidate, dedupByHash } from "./dedup.ts";
import { type Embedder, toVectorLiteral } from "./embeddings.ts";

export interface ProcessDeps {
  pool: pg.Pool;
  embedder: Embedder;
  log?: Logger;
  chunk?: ChunkOptions;
  /** Documents chunked, embedded and written per transaction. */
  docsPerBatch?: number;
}

export interface ProcessResult {
  staged: number;
  duplicates: number;
  indexed: number;
  unchanged: number;
  removed: number;
  chunks: number;
}

interface StagedForIndex extends DedupCandidate {
  sourceType: string;
  url: string | null;
  title: string;
  content: string;
  metadata: Record<string, unknown>;
}

async function readStaging(pool: pg.Pool, runId: string): Promise<StagedForIndex[]> {
  const { rows } = await pool.query(
    `select s.staging_id, s.source_id, s.source_type, s.source_path, s.url, s.title, s.content, s.content_hash,
            s.metadata, src.priority
       from public.ingest_staging s join public.ingest_sources src on src.id = s.source_id
      where s.run_id = $1`,
    [runId],
  );
  return rows.map((r) => ({
    stagingId: r.staging_id,
    sourceId: Number(r.source_id),
    sourceType: r.source_type,
    sourcePath: r.source_path,
    url: r.url,
    title: r.title,
    content: r.content,
    contentHash: r.content_hash,
    metadata: r.metadata,
    priority: r.priority,
  }));
}

const key = (sourceId: number, path: string) => `${sourceId}\u0000${path}`;

async function indexBatch(
  client: pg.PoolClient,
  runId: string,
  docs: StagedForIndex[],
  deps: ProcessDeps,
): Promise<number> {
  const opts = deps.chunk ?? DEFAULT_CHUNK_OPTIONS;
  const perDoc = docs.map((d) => chunkMarkdown(d.content, opts));
  const texts = perDoc.flatMap((chunks, i) => chunks.map((c) => embeddingText(docs[i]!.title, c)));
  const vectors = await deps.embedder.embed(texts);
  let v = 0;
  await client.query("begin");
  try {
    for (const [i, d] of docs.entries()) {
      const { rows } = await client.query<{ id: string }>(
        `insert into public.documents (source_id, source_path, source_type, url, title, content_hash, model, metadata, run_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (source_id, source_path) do update set
           source_type = excluded.source_type, url = excluded.url, title = excluded.title,
           content_hash = excluded.content_hash, model = excluded.model, metadata = excluded.metadata,
           run_id = excluded.run_id, indexed_at = now()
         returning id`,
        [
          d.sourceId,
          d.sourcePath,
          d.sourceType,
          d.url,
          d.title,
          d.contentHash,
          deps.embedder.model,
          d.metadata,
          runId,
        ],
      );
      const docId = rows[0]!.id;
      await client.query("delete from public.chunks where document_id = $1", [docId]);
      const chunks = perDoc[i]!;
      if (chunks.length === 0) continue;
      const embeddings = chunks.map(() => toVectorLiteral(vectors[v++]!));
      await client.query(
        `insert into public.chunks (document_id, chunk_index, heading_path, content, embedding, model)
         select $1, t.idx, array(select jsonb_array_elements_text(t.path)), t.content, t.embedding::extensions.vector, $2
           from unnest($3::int[], $4::jsonb[], $5::text[], $6::text[]) as t(idx, path, content, embedding)`,
        [
          docId,
          deps.embedder.model,
          chunks.map((c) => c.index),
          chunks.map((c) => JSON.stringify(c.headingPath)),
          chunks.map((c) => c.content),
          embeddings,
        ],
      );
    }
    await client.query("commit");
  } catch (err) {
    await client.query("rollback");
    throw err;
  }
  return texts.length;
}

async function recordedResult(pool: pg.Pool, runId: string): Promise<ProcessResult> {
  const { rows } = await pool.query(
    `select staged, documents_indexed, documents_unchanged, documents_removed, chunks_indexed
       from public.ingest_runs where id = $1`,
    [runId],
  );
  const r = rows[0] ?? {};
  return {
    staged: r.staged ?? 0,
    duplicates: 0,
    indexed: r.documents_indexed ?? 0,
    unchanged: r.documents_unchanged ?? 0,
    removed: r.documents_removed ?? 0,
    chunks: r.chunks_indexed ?? 0,
  };
}

export async function processAfterCrawl(runId: string, deps: ProcessDeps): Promise<ProcessResult> {
  const { pool } = deps;
  // One pass per run at a time: a worker that lost its lease mid-pass and its successor must not
  // interleave chunk rewrites of the same documents.
  const lock = await pool.connect();
  try {
    await lock.query("select pg_advisory_lock(hashtext('ingest:index:' || $1))", [runId]);
    return await indexRunLocked(runId, deps);
  } finally {
    await lock.query("select pg_advisory_unlock(hashtext('ingest:index:' || $1))", [runId]).catch(() => {});
    lock.release();
  }
}

async function indexRunLocked(runId: string, deps: ProcessDeps): Promise<ProcessResult> {
  const { pool } = deps;
  const staged = await readStaging(pool, runId);
  // Staging is deleted in the same transaction that records the counts, so none left means done.
  if (staged.length === 0) return recordedResult(pool, runId);
  const { kept, dropped } = dedupByHash(staged);

  const existing = new Map<string, { hash: string; model: string }>();
  if (kept.length > 0) {
    const { rows } = await pool.query(
      `select d.source_id, d.source_path, d.content_hash, d.model
         from public.documents d
         join unnest($1::bigint[], $2::text[]) as k(source_id, source_path)
           on k.source_id = d.source_id and k.source_path = d.source_path`,
      [kept.map((k) => k.sourceId), kept.map((k) => k.sourcePath)],
    );
    for (const r of rows)
      existing.set(key(Number(r.source_id), r.source_path), { hash: r.content_hash, model: r.model });
  }
  const changed = kept.filter((d) => {
    const e = existing.get(key(d.sourceId, d.sourcePath));
    return !e || e.hash !== d.contentHash || e.model !== deps.embedder.model;
  });

  let chunks = 0;
  const perBatch = deps.docsPerBatch ?? 32;
  const client = await pool.connect();
  try {
    for (let i = 0; i < changed.length; i += perBatch) {
      chunks += await indexBatch(client, runId, changed.slice(i, i + perBatch), deps);
    }
    await client.query("begin");
    // Vanished: the source's complete listing in this run no longer has the document. Sources that
    // failed, were skipped or listed nothing this run keep their documents.
    const vanished = await client.query(
      `delete from public.documents d
        using public.ingest_run_sources rs
        where rs.run_id = $1 and rs.listing_complete and d.source_id = rs.source_id
          and not exists (select 1 from public.ingest_items i
                           where i.source_id = d.source_id and i.item_key = d.source_path)`,
      [runId],
    );
    // Duplicates: another source's copy won, so this source's earlier copy goes.
    const dupes = await client.query(
      `delete from public.documents d
        using unnest($1::bigint[], $2::text[]) as k(source_id, source_path)
        where d.source_id = k.source_id and d.source_path = k.source_path`,
      [dropped.map((d) => d.row.sourceId), dropped.map((d) => d.row.sourcePath)],
    );
    const result: ProcessResult = {
      staged: staged.length,
      duplicates: dropped.length,
      indexed: changed.length,
      unchanged: kept.length - changed.length,
      removed: (vanished.rowCount ?? 0) + (dupes.rowCount ?? 0),
      chunks,
    };
    await client.query(
      `update public.ingest_runs set staged = $2, documents_indexed = $3, documents_unchanged = $4,
              documents_removed = $5, chunks_indexed = $6
        where id = $1`,
      [runId, result.staged, result.indexed, result.unchanged, result.removed, result.chunks],
    );
    await client.query("delete from public.ingest_staging where run_id = $1", [runId]);
    await client.query("commit");
    deps.log?.info("indexed", { run_id: runId, ...result });
    return result;
  } catch (err) {
    await client.query("rollback").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
