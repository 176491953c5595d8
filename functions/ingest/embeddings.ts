// Embedding settings and the embedders that run anywhere, the search Edge Function included. Three modes:
// `none` indexes and searches text only (BM25, no vectors); `local` (default) is Universal Sentence
// Encoder Lite, run by the worker in threads (local-threads.ts, Node only, never in an Edge Function);
// `openai` calls an OpenAI-compatible /embeddings endpoint asking for 512 dimensions. Every chunk records
// `model`, and search only compares vectors of the model that embedded the query.
import { readEnv } from "../shared/env.ts";
import { truncate } from "../shared/truncate.ts";

export const EMBEDDING_DIMS = 512;
export const LOCAL_MODEL = "use-lite-512";
/** What chunks.model says for chunks indexed without vectors. */
export const TEXT_ONLY_MODEL = "text-only";

export interface Embedder {
  readonly model: string;
  /** `onBatch` hears how many texts each finished batch held, for progress. */
  embed(texts: string[], onBatch?: (texts: number) => void): Promise<number[][]>;
}

export type OpenAiConfig = {
  provider: "openai";
  batchSize: number;
  apiKey: string;
  baseUrl: string;
  model: string;
};

export type EmbeddingsConfig =
  | { provider: "none" }
  /** `threads` unset: one per core (decided where the threads start). */
  | { provider: "local"; batchSize: number; threads: number | undefined }
  | OpenAiConfig;

export class EmbeddingsConfigError extends Error {
  override name = "EmbeddingsConfigError";
}

function intSetting(get: (name: string) => string | undefined, name: string, min: number, max: number) {
  const raw = get(name);
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new EmbeddingsConfigError(
      `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}

export function embeddingsConfigFromEnv(
  get: (name: string) => string | undefined = readEnv,
): EmbeddingsConfig {
  const provider = get("INGEST_EMBEDDINGS") || "local";
  const batchSize = intSetting(get, "INGEST_EMBED_BATCH", 1, 2048) ?? 64;
  if (provider === "none") return { provider };
  if (provider === "local") {
    return { provider, batchSize, threads: intSetting(get, "INGEST_EMBED_THREADS", 1, 64) };
  }
  if (provider === "openai") {
    const apiKey = get("OPENAI_API_KEY");
    if (!apiKey) throw new EmbeddingsConfigError("INGEST_EMBEDDINGS=openai needs OPENAI_API_KEY");
    return {
      provider,
      batchSize,
      apiKey,
      baseUrl: (get("OPENAI_BASE_URL") || "https://api.openai.com/v1").replace(/\/$/, ""),
      model: get("OPENAI_EMBEDDING_MODEL") || "text-embedding-3-small",
    };
  }
  throw new EmbeddingsConfigError(
    `INGEST_EMBEDDINGS must be none, local or openai, got ${JSON.stringify(provider)}`,
  );
}

/** The value of chunks.model for chunks indexed with this configuration. */
export function modelName(cfg: EmbeddingsConfig): string {
  if (cfg.provider === "none") return TEXT_ONLY_MODEL;
  if (cfg.provider === "local") return LOCAL_MODEL;
  return `openai:${cfg.model}@${EMBEDDING_DIMS}`;
}

/** Splits into batches of `size`, embeds them one after another, and checks every vector's shape. */
export async function embedInBatches(
  texts: string[],
  size: number,
  embedBatch: (batch: string[]) => Promise<number[][]>,
  onBatch?: (texts: number) => void,
): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i < texts.length; i += size) {
    const batch = texts.slice(i, i + size);
    const vectors = await embedBatch(batch);
    checkVectors(vectors, batch.length);
    out.push(...vectors);
    onBatch?.(batch.length);
  }
  return out;
}

export function checkVectors(vectors: number[][], expected: number): void {
  if (vectors.length !== expected)
    throw new Error(`embedder returned ${vectors.length} vectors for ${expected} texts`);
  for (const v of vectors) {
    if (v.length !== EMBEDDING_DIMS)
      throw new Error(
        `embedder returned a ${v.length}-dimensional vector; the index needs ${EMBEDDING_DIMS}`,
      );
  }
}

export function openaiEmbedder(cfg: OpenAiConfig): Embedder {
  return {
    model: modelName(cfg),
    embed(texts, onBatch) {
      return embedInBatches(
        texts,
        cfg.batchSize,
        async (batch) => {
          const res = await fetch(`${cfg.baseUrl}/embeddings`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${cfg.apiKey}` },
            body: JSON.stringify({ model: cfg.model, input: batch, dimensions: EMBEDDING_DIMS }),
          });
          const text = await res.text();
          if (!res.ok) throw new Error(`OpenAI embeddings: HTTP ${res.status} ${truncate(text, 300)}`);
          let body: { data?: { index?: number; embedding?: unknown }[] };
          try {
            body = JSON.parse(text);
          } catch {
            throw new Error("OpenAI embeddings: answer is not JSON");
          }
          if (!Array.isArray(body.data)) throw new Error("OpenAI embeddings: answer has no data array");
          // The API may answer out of order; `index` says which input each vector belongs to.
          const vectors: number[][] = new Array(batch.length);
          for (const d of body.data) {
            if (typeof d.index !== "number" || !Array.isArray(d.embedding)) {
              throw new Error("OpenAI embeddings: each data entry needs index and embedding");
            }
            vectors[d.index] = d.embedding as number[];
          }
          if (vectors.some((v) => v === undefined) || body.data.length !== batch.length) {
            throw new Error(`OpenAI embeddings: expected ${batch.length} vectors, got ${body.data.length}`);
          }
          return vectors;
        },
        onBatch,
      );
    },
  };
}

/** pgvector's text form, which node-postgres and the Deno driver both pass as a plain parameter. */
export function toVectorLiteral(v: ArrayLike<number>): string {
  let s = "[";
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    s += (i ? "," : "") + (Number.isFinite(x) ? x : 0);
  }
  return `${s}]`;
}
