// The SQL half of search, shared by the Edge Function, the demo, the tests and the benchmarks.
import type pg from "pg";
import { toVectorLiteral } from "./embeddings.ts";
import type { SearchHit, SearchRequest } from "./search.ts";

type Queryable = Pick<pg.Pool, "query">;

/** Hybrid when `vector` is given (compared only with chunks of `model`), BM25 alone otherwise. */
export async function searchChunks(
  db: Queryable,
  vector: number[] | undefined,
  req: SearchRequest,
  model: string | undefined,
): Promise<SearchHit[] | null> {
  let sourceId: number | null = null;
  if (typeof req.source === "string") {
    const { rows } = await db.query("select id from public.ingest_sources where name = $1", [req.source]);
    if (!rows[0]) return null;
    sourceId = Number(rows[0].id);
  } else if (typeof req.source === "number") {
    sourceId = req.source;
  }
  const { rows } = await db.query(
    `select chunk_id, document_id, title, url, source_path, heading_path, snippet, content, similarity, bm25, score
       from public.search_chunks($1::extensions.vector, $2, $3, $4, $5)`,
    [vector ? toVectorLiteral(vector) : null, req.query, req.k, vector ? (model ?? null) : null, sourceId],
  );
  return rows.map((r) => ({ ...r, chunk_id: Number(r.chunk_id), document_id: Number(r.document_id) }));
}
