// The index pass, plain async code over staging rows at rest (not durable by design): dedup, chunk, embed,
// upsert documents and chunks, skip unchanged documents, drop vanished ones, refresh the BM25 statistics,
// then delete the run's staging rows. Every write is keyed by (source, path), so running it again on the
// same rows after a crash converges on the same index, skipping what the crashed pass already wrote;
// staging is deleted only at the very end, in the same transaction as the run's counts.
//
// Documents stream through in windows of bounded size: their text is read from staging per window,
// chunked and embedded in the indexer's threads (never on the event loop), and written in one
// transaction; the run's progress (chunks_done of chunks_total) moves as batches are embedded. The next
// window is prepared while one is written.
import type pg from "pg";
import { errorMessage, type Logger } from "../shared/log.ts";
import { inTransaction } from "../shared/transaction.ts";
import { type ChunkOptions, DEFAULT_CHUNK_OPTIONS } from "./chunk.ts";
import { type DedupCandidate, dedupByHash } from "./dedup.ts";
import { toVectorLiteral } from "./embeddings.ts";
import type { ChunkedDoc } from "./index-threads.ts";
import type { Indexer } from "./indexer.ts";

export interface ProcessDeps {
  pool: pg.Pool;
  indexer: Indexer;
  log?: Logger;
  chunk?: ChunkOptions;
  /** A window (one transaction) ends once it holds this many chunks or documents; a page bigger than
   * that is a window of its own, bounded by the indexer's per-page cap. */
  windowChunks?: number;
  windowDocs?: number;
}

export interface ProcessResult {
  staged: number;
  duplicates: number;
  indexed: number;
  unchanged: number;
  removed: number;
  chunks: number;
  /** Pages indexed up to the per-page chunk cap only (each named in ingest_item_errors). */
  truncated: number;
}

interface StagedForIndex extends DedupCandidate {
  sourceType: string;
  url: string | null;
  title: string;
  metadata: Record<string, unknown>;
}

/** Everything but the text, which is read per window. */
async function readStaging(pool: pg.Pool, runId: string): Promise<StagedForIndex[]> {
  const { rows } = await pool.query(
    `select s.staging_id, s.source_id, s.source_type, s.source_path, s.url, s.title, s.content_hash,
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
    contentHash: r.content_hash,
    metadata: r.metadata,
    priority: r.priority,
  }));
}

async function readContents(pool: pg.Pool, docs: StagedForIndex[]): Promise<string[]> {
  const { rows } = await pool.query<{ staging_id: string; content: string }>(
    "select staging_id, content from public.ingest_staging where staging_id = any($1::text[])",
    [docs.map((d) => d.stagingId)],
  );
  const byId = new Map(rows.map((r) => [r.staging_id, r.content]));
  return docs.map((d) => {
    const content = byId.get(d.stagingId);
    if (content === undefined) throw new Error(`staging row ${d.stagingId} vanished during the index pass`);
    return content;
  });
}

const key = (sourceId: number, path: string) => `${sourceId}\u0000${path}`;

interface Prepared {
  docs: StagedForIndex[];
  chunked: ChunkedDoc[];
  vectors: number[][] | undefined;
}

async function prepareWindow(
  docs: StagedForIndex[],
  deps: ProcessDeps,
  progress: Progress,
): Promise<Prepared> {
  const { indexer } = deps;
  const opts = deps.chunk ?? DEFAULT_CHUNK_OPTIONS;
  const contents = await readContents(deps.pool, docs);
  const chunked = await Promise.all(
    docs.map((d, i) => indexer.threads.chunk(d.title, contents[i]!, opts, indexer.maxChunksPerPage)),
  );
  const texts = chunked.flatMap((c) => c.texts);
  if (!indexer.embedder) {
    progress.add(texts.length);
    return { docs, chunked, vectors: undefined };
  }
  const vectors = texts.length > 0 ? await indexer.embedder.embed(texts, (n) => progress.add(n)) : [];
  return { docs, chunked, vectors };
}

/**
 * The run's chunks_done: chunks embedded (or, text-only, chunked) so far. Embedding is what takes the
 * time, and one page can take minutes, so progress moves with each embedding batch rather than with each
 * commit; written at most every PROGRESS_MS, on a connection of its own.
 */
interface Progress {
  add(chunks: number): void;
  flush(): Promise<void>;
}

const PROGRESS_MS = 500;

function runProgress(pool: pg.Pool, runId: string, log: Logger | undefined): Progress {
  let pending = 0;
  let writing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const write = () => {
    timer = undefined;
    const n = pending;
    pending = 0;
    if (n === 0) return writing;
    writing = writing
      .then(() =>
        pool.query("update public.ingest_runs set chunks_done = chunks_done + $2 where id = $1", [runId, n]),
      )
      .then(
        () => {},
        // Progress is for people watching; a lost update must not fail the pass.
        (err) => log?.warn("progress update failed", { run_id: runId, error: errorMessage(err) }),
      );
    return writing;
  };
  return {
    add(chunks) {
      pending += chunks;
      timer ??= setTimeout(write, PROGRESS_MS);
    },
    flush() {
      if (timer) clearTimeout(timer);
      return write();
    },
  };
}

async function writeWindow(client: pg.PoolClient, runId: string, w: Prepared, deps: ProcessDeps) {
  const { model, maxChunksPerPage } = deps.indexer;
  let v = 0;
  let chunks = 0;
  let truncated = 0;
  await inTransaction(client, async () => {
    for (const [i, d] of w.docs.entries()) {
      const { rows } = await client.query<{ id: string }>(
        `insert into public.documents (source_id, source_path, source_type, url, title, content_hash, model, metadata, run_id)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       on conflict (source_id, source_path) do update set
         source_type = excluded.source_type, url = excluded.url, title = excluded.title,
         content_hash = excluded.content_hash, model = excluded.model, metadata = excluded.metadata,
         run_id = excluded.run_id, indexed_at = now()
       returning id`,
        [d.sourceId, d.sourcePath, d.sourceType, d.url, d.title, d.contentHash, model, d.metadata, runId],
      );
      const docId = rows[0]!.id;
      await client.query("delete from public.chunks where document_id = $1", [docId]);
      const { chunks: docChunks, total } = w.chunked[i]!;
      if (total > docChunks.length) {
        truncated++;
        await client.query(
          `insert into public.ingest_item_errors (run_id, source_id, item_key, error) values ($1, $2, $3, $4)
         on conflict (run_id, source_id, item_key) do update set error = excluded.error, at = now()`,
          [
            runId,
            d.sourceId,
            d.sourcePath,
            `indexed only the first ${docChunks.length} of its ${total} chunks (INGEST_MAX_CHUNKS_PER_PAGE is ${maxChunksPerPage})`,
          ],
        );
      }
      if (docChunks.length === 0) continue;
      const embeddings = docChunks.map(() => (w.vectors ? toVectorLiteral(w.vectors[v++]!) : null));
      await client.query(
        `insert into public.chunks (document_id, chunk_index, heading_path, content, embedding, model)
       select $1, t.idx, array(select jsonb_array_elements_text(t.path)), t.content, t.embedding::extensions.vector, $2
         from unnest($3::int[], $4::jsonb[], $5::text[], $6::text[]) as t(idx, path, content, embedding)`,
        [
          docId,
          model,
          docChunks.map((c) => c.index),
          docChunks.map((c) => JSON.stringify(c.headingPath)),
          docChunks.map((c) => c.content),
          embeddings,
        ],
      );
      chunks += docChunks.length;
    }
    if (truncated > 0) {
      await client.query(
        "update public.ingest_runs set documents_truncated = documents_truncated + $2 where id = $1",
        [runId, truncated],
      );
    }
  });
  return { chunks, truncated };
}

/** Windows of documents bounded by their (capped) chunk counts. */
function windows(docs: StagedForIndex[], counts: number[], maxChunks: number, maxDocs: number) {
  const out: StagedForIndex[][] = [];
  let current: StagedForIndex[] = [];
  let size = 0;
  docs.forEach((d, i) => {
    if (current.length > 0 && (size + counts[i]! > maxChunks || current.length >= maxDocs)) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(d);
    size += counts[i]!;
  });
  if (current.length > 0) out.push(current);
  return out;
}

async function recordedResult(pool: pg.Pool, runId: string): Promise<ProcessResult> {
  const { rows } = await pool.query(
    `select staged, documents_indexed, documents_unchanged, documents_removed, chunks_indexed, documents_truncated
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
    truncated: r.documents_truncated ?? 0,
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

/** Chunk counts of the documents to index, read and chunked in windows, for the run's progress total. */
async function countChunks(docs: StagedForIndex[], deps: ProcessDeps): Promise<number[]> {
  const opts = deps.chunk ?? DEFAULT_CHUNK_OPTIONS;
  const counts: number[] = [];
  const step = deps.windowDocs ?? 32;
  for (let i = 0; i < docs.length; i += step) {
    const slice = docs.slice(i, i + step);
    const contents = await readContents(deps.pool, slice);
    const n = await Promise.all(contents.map((c) => deps.indexer.threads.count(c, opts)));
    counts.push(...n.map((x) => Math.min(x, deps.indexer.maxChunksPerPage)));
  }
  return counts;
}

async function indexRunLocked(runId: string, deps: ProcessDeps): Promise<ProcessResult> {
  const { pool, indexer } = deps;
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
  // What a crashed pass already wrote has this run's hash and model now, so it is skipped here.
  const changed = kept.filter((d) => {
    const e = existing.get(key(d.sourceId, d.sourcePath));
    return !e || e.hash !== d.contentHash || e.model !== indexer.model;
  });

  const counts = await countChunks(changed, deps);
  await pool.query("update public.ingest_runs set chunks_total = $2, chunks_done = 0 where id = $1", [
    runId,
    counts.reduce((a, b) => a + b, 0),
  ]);
  const plan = windows(changed, counts, deps.windowChunks ?? 256, deps.windowDocs ?? 32);

  let chunks = 0;
  let truncated = 0;
  const progress = runProgress(pool, runId, deps.log);
  const client = await pool.connect();
  try {
    let next = plan.length > 0 ? prepareWindow(plan[0]!, deps, progress) : undefined;
    for (let i = 0; i < plan.length; i++) {
      const current = next!;
      next = i + 1 < plan.length ? prepareWindow(plan[i + 1]!, deps, progress) : undefined;
      // If this window fails, the one being prepared is abandoned: its failure must not go unhandled.
      next?.catch(() => {});
      const written = await writeWindow(client, runId, await current, deps);
      chunks += written.chunks;
      truncated += written.truncated;
      deps.log?.info("index progress", { run_id: runId, window: i + 1, windows: plan.length, chunks });
    }
    await progress.flush();
    const result = await inTransaction(client, async () => {
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
        truncated,
      };
      // BM25's statistics follow the index. A pass that changed nothing leaves them as they are, unless a
      // crashed pass wrote chunks before it could refresh them.
      const { rows: stale } = await client.query<{ stale: boolean }>(
        `select coalesce((select refreshed_at from public.search_corpus), '-infinity')
                  < coalesce((select max(indexed_at) from public.documents), '-infinity') as stale`,
      );
      if (result.removed > 0 || stale[0]?.stale) await client.query("select public.refresh_search_stats()");
      await client.query(
        `update public.ingest_runs set staged = $2, documents_indexed = $3, documents_unchanged = $4,
                documents_removed = $5, chunks_indexed = $6
          where id = $1`,
        [runId, result.staged, result.indexed, result.unchanged, result.removed, result.chunks],
      );
      await client.query("delete from public.ingest_staging where run_id = $1", [runId]);
      return result;
    });
    deps.log?.info("indexed", { run_id: runId, ...result });
    return result;
  } catch (err) {
    deps.log?.warn("index pass failed", { run_id: runId, error: errorMessage(err) });
    throw err;
  } finally {
    client.release();
  }
}
