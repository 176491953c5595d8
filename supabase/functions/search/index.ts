// POST /functions/v1/search {query, k?, source?}: embeds the query in this Deno process with the model that
// indexed the corpus and answers the hybrid (vector + full-text, RRF) matches. No Resonate.
import pg from "pg";
import { createEmbedder, embeddingsConfigFromEnv } from "../../../functions/ingest/embeddings.ts";
import { type SearchDeps, searchHandler } from "../../../functions/ingest/search.ts";
import { searchChunks } from "../../../functions/ingest/search-sql.ts";
import { loadConfig } from "../../../functions/shared/config.ts";

function buildDeps(): SearchDeps {
  const pool = new pg.Pool({ connectionString: loadConfig().databaseUrl, max: 4 });
  return {
    embedder: createEmbedder(embeddingsConfigFromEnv()),
    search: (vector, req, model) => searchChunks(pool, vector, req, model),
  };
}

let deps: SearchDeps | undefined;

Deno.serve(
  searchHandler(async () => {
    deps ??= buildDeps();
    return deps;
  }),
);
