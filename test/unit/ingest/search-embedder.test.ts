import { describe, expect, it } from "vitest";
import {
  queryEmbeddingFromEnv,
  searchFunctionEmbeddingsProblem,
} from "../../../functions/ingest/search-embedder.ts";

describe("search embedder", () => {
  it("says what to set when the search function would need the local model, and nothing when it would not", () => {
    const problem = searchFunctionEmbeddingsProblem({});
    expect(problem).toMatch(
      /^the local embedding model \(INGEST_EMBEDDINGS=local, the default\) cannot run inside an Edge Function/,
    );
    expect(problem).toMatch(/set INGEST_EMBEDDINGS=none .* or INGEST_EMBEDDINGS=openai with OPENAI_API_KEY/);
    expect(searchFunctionEmbeddingsProblem({ INGEST_EMBEDDINGS: "local" })).toBe(problem);
    expect(searchFunctionEmbeddingsProblem({ INGEST_EMBEDDINGS: "none" })).toBeUndefined();
    expect(
      searchFunctionEmbeddingsProblem({ INGEST_EMBEDDINGS: "openai", OPENAI_API_KEY: "k" }),
    ).toBeUndefined();
    expect(searchFunctionEmbeddingsProblem({ INGEST_EMBEDDINGS: "openai" })).toBe(
      "INGEST_EMBEDDINGS=openai needs OPENAI_API_KEY",
    );
    expect(searchFunctionEmbeddingsProblem({ INGEST_EMBEDDINGS: "gte-small" })).toBe(
      'INGEST_EMBEDDINGS must be none, local or openai, got "gte-small"',
    );
  });

  it("ranks by text alone, and says why, where the function cannot run the corpus's model", () => {
    const local = queryEmbeddingFromEnv(() => undefined);
    expect(local.embedder).toBeUndefined();
    expect(local.note).toMatch(/^ranked by text only: the local embedding model/);
    expect(queryEmbeddingFromEnv((n) => ({ INGEST_EMBEDDINGS: "none" })[n])).toEqual({
      embedder: undefined,
      note: undefined,
    });
    const openai = queryEmbeddingFromEnv((n) => ({ INGEST_EMBEDDINGS: "openai", OPENAI_API_KEY: "k" })[n]);
    expect(openai.embedder?.model).toBe("openai:text-embedding-3-small@512");
  });
});
