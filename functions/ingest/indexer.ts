// What the index pass writes with: the model name chunks record, the threads that chunk (and run the
// local model), the embedder (none: text-only, no vectors) and the per-page chunk cap. Node only: the
// worker, the tests and the benchmarks build one; an Edge Function never does.
import { availableParallelism } from "node:os";
import {
  checkVectors,
  type Embedder,
  type EmbeddingsConfig,
  LOCAL_MODEL,
  modelName,
  openaiEmbedder,
} from "./embeddings.ts";
import { type IndexThreads, startIndexThreads } from "./index-threads.ts";

/** A page that makes more chunks than this is indexed up to its first this-many, and the run says so. */
export const DEFAULT_MAX_CHUNKS_PER_PAGE = 500;

export interface Indexer {
  /** chunks.model of what this indexer writes (`text-only` without vectors). */
  readonly model: string;
  readonly threads: IndexThreads;
  /** Unset: chunks are written without vectors and searched by BM25 alone. */
  readonly embedder: Embedder | undefined;
  readonly maxChunksPerPage: number;
  close(): Promise<void>;
}

export interface IndexerOptions {
  maxChunksPerPage?: number;
  /** Threads are stopped after this long without a job (default 30 s). */
  idleMs?: number;
}

/**
 * Batches of texts of similar length, as lists of indices into `texts`: USE-lite pads every text of a
 * call to the longest one, so a batch that mixes a heading-sized chunk with a full one embeds padding
 * (docs/ingest.md, "Index pass", has the measurement).
 */
export function lengthSortedBatches(texts: string[], size: number): number[][] {
  const order = texts.map((_, i) => i).sort((a, b) => texts[a]!.length - texts[b]!.length || a - b);
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += size) batches.push(order.slice(i, i + size));
  return batches;
}

/** The local model over the threads: each batch is one job, so every thread embeds at once. */
function threadedLocalEmbedder(threads: IndexThreads, batchSize: number): Embedder {
  return {
    model: LOCAL_MODEL,
    async embed(texts, onBatch) {
      const batches = lengthSortedBatches(texts, batchSize);
      const vectors: number[][] = new Array(texts.length);
      await Promise.all(
        batches.map(async (b) => {
          const got = await threads.embed(b.map((i) => texts[i]!));
          checkVectors(got, b.length);
          for (const [j, i] of b.entries()) vectors[i] = got[j]!;
          onBatch?.(b.length);
        }),
      );
      return vectors;
    },
  };
}

export function createIndexer(cfg: EmbeddingsConfig, opts: IndexerOptions = {}): Indexer {
  // Chunking alone keeps one thread far ahead of the database; the local model wants every core.
  const size = cfg.provider === "local" ? (cfg.threads ?? availableParallelism()) : 1;
  const threads = startIndexThreads(size, opts.idleMs);
  const embedder =
    cfg.provider === "local"
      ? threadedLocalEmbedder(threads, cfg.batchSize)
      : cfg.provider === "openai"
        ? openaiEmbedder(cfg)
        : undefined;
  return {
    model: modelName(cfg),
    threads,
    embedder,
    maxChunksPerPage: opts.maxChunksPerPage ?? DEFAULT_MAX_CHUNKS_PER_PAGE,
    close: () => threads.close(),
  };
}
