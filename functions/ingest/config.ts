// The ingest workload's settings, read from the environment and checked when the worker starts, like the
// shared config: which embeddings index the chunks (parsed by embeddings.ts, which the search function
// reads too) and how many chunks one page may have.
import { int } from "../shared/config.ts";
import { type EmbeddingsConfig, embeddingsConfigFromEnv } from "./embeddings.ts";
import { DEFAULT_MAX_CHUNKS_PER_PAGE } from "./indexer.ts";

export interface IngestConfig {
  embeddings: EmbeddingsConfig;
  /** INGEST_MAX_CHUNKS_PER_PAGE: a page is indexed up to this many chunks, and the run says so. */
  maxChunksPerPage: number;
}

export function loadIngestConfig(): IngestConfig {
  return {
    embeddings: embeddingsConfigFromEnv(),
    maxChunksPerPage: int("INGEST_MAX_CHUNKS_PER_PAGE", DEFAULT_MAX_CHUNKS_PER_PAGE, 1, 100_000),
  };
}
