// What the `search` Edge Function embeds a query with. It runs only what the platform can run: a hosted
// provider (INGEST_EMBEDDINGS=openai, configured by secret) or nothing at all (INGEST_EMBEDDINGS=none:
// BM25 only). The local USE-lite model (INGEST_EMBEDDINGS=local) needs ~28 MB of weights and more memory
// and CPU than a function gets, so it never loads there: a function configured for it ranks by text
// alone and says so, and the deploy refuses that configuration (searchFunctionEmbeddingsProblem).
import {
  type Embedder,
  EmbeddingsConfigError,
  embeddingsConfigFromEnv,
  openaiEmbedder,
} from "./embeddings.ts";

export interface QueryEmbedding {
  /** Unset: the query is ranked by BM25 alone. */
  embedder: Embedder | undefined;
  /** Why a corpus with vectors is searched by text only, for the answer. */
  note: string | undefined;
}

const LOCAL_IN_FUNCTION =
  "the local embedding model (INGEST_EMBEDDINGS=local, the default) cannot run inside an Edge Function";
const WHAT_TO_SET =
  "set INGEST_EMBEDDINGS=none (text-only BM25 search, no embedding) or INGEST_EMBEDDINGS=openai with " +
  "OPENAI_API_KEY (and OPENAI_BASE_URL / OPENAI_EMBEDDING_MODEL for another OpenAI-compatible provider) " +
  "for the worker and the search function alike, then re-index with a forced ingest run";

export function queryEmbeddingFromEnv(get?: (name: string) => string | undefined): QueryEmbedding {
  const cfg = embeddingsConfigFromEnv(get);
  if (cfg.provider === "openai") return { embedder: openaiEmbedder(cfg), note: undefined };
  if (cfg.provider === "none") return { embedder: undefined, note: undefined };
  return { embedder: undefined, note: `ranked by text only: ${LOCAL_IN_FUNCTION}; ${WHAT_TO_SET}` };
}

/**
 * What to set when this environment (the worker's embedding settings, which the search function shares)
 * would need the local model inside the search function, or is malformed; undefined when the function can
 * embed queries as the chunks were embedded. For scripts/deploy.ts, before anything is deployed.
 */
export function searchFunctionEmbeddingsProblem(env: Record<string, string | undefined>): string | undefined {
  try {
    const cfg = embeddingsConfigFromEnv((name) => env[name]);
    if (cfg.provider !== "local") return undefined;
  } catch (err) {
    if (err instanceof EmbeddingsConfigError) return err.message;
    throw err;
  }
  return `${LOCAL_IN_FUNCTION} (20 MB bundle, 256 MB memory, 2 s CPU per request): ${WHAT_TO_SET}`;
}
