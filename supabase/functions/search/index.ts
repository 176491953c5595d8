// POST /functions/v1/search {query, k?, source?}: one result per page, ranked by BM25 fused with vector
// similarity when the function can embed the query with the model that indexed the corpus (a hosted
// provider; the local model never loads here), by BM25 alone otherwise. No Resonate.
import { type SearchDeps, searchHandler } from "../../../functions/ingest/search.ts";
import { queryEmbeddingFromEnv } from "../../../functions/ingest/search-embedder.ts";
import { searchChunks } from "../../../functions/ingest/search-sql.ts";
import { edgeDeps } from "../../../functions/shared/edge-function.ts";

Deno.serve(
  searchHandler(
    edgeDeps(
      ({ db }): SearchDeps => ({
        query: queryEmbeddingFromEnv(),
        search: (vector, req, model) => db((c) => searchChunks(c, vector, req, model)),
      }),
    ),
  ),
);
