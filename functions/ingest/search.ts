// The `search` Edge Function's logic: validate `{query, k?, source?}`, embed the query when the function
// has a model it can run (search-embedder.ts), and run the one SQL function: hybrid (vectors fused with
// BM25) or BM25 alone. One result per page. No Resonate on this path. Whatever goes wrong below the
// validation is answered without the database's or the provider's own text, which stays in the log.
import { corsHeaders } from "../shared/cors.ts";
import { endpoint } from "../shared/endpoint.ts";
import { HttpError, json, readJsonBody } from "../shared/http.ts";
import { createLogger, errorMessage, type Logger } from "../shared/log.ts";
import { listNames } from "../shared/name-list.ts";
import type { Validation } from "../shared/webhook.ts";
import type { QueryEmbedding } from "./search-embedder.ts";

export const MAX_QUERY_CHARS = 1000;
export const MAX_K = 50;
export const MAX_SOURCE_NAME_CHARS = 200;

export interface SearchRequest {
  query: string;
  k: number;
  source: number | string | undefined;
}

export interface SearchHit {
  chunk_id: number;
  document_id: number;
  title: string;
  url: string | null;
  source_path: string;
  heading_path: string[];
  /** The chunk's text around the question's words, which are marked **like this**. */
  snippet: string;
  content: string;
  similarity: number | null;
  bm25: number | null;
  /** What the results are ordered by: the fused rank (hybrid) or BM25 (text). */
  score: number;
}

export type SearchMode = "hybrid" | "text";

export interface SearchDeps {
  query: QueryEmbedding;
  /** Runs public.search_chunks; no vector means BM25 alone. `source` is resolved to an id (unknown name → null). */
  search(
    vector: number[] | undefined,
    req: SearchRequest,
    model: string | undefined,
  ): Promise<SearchHit[] | null>;
}

// Postgres refuses NUL in text, so it would fail the query instead of being refused here.
const hasNul = (s: string) => s.includes("\u0000");

export function parseSearchRequest(body: unknown): Validation<SearchRequest> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, error: 'body must be a JSON object like {"query": "...", "k": 5}' };
  }
  const b = body as Record<string, unknown>;
  // A field of another API (limit, mode) would otherwise be dropped and the caller answered as if obeyed.
  const unknown = Object.keys(b).filter((f) => f !== "query" && f !== "k" && f !== "source");
  if (unknown.length)
    return { ok: false, error: `unknown field(s) ${listNames(unknown)}; allowed: query, k, source` };
  if (typeof b.query !== "string" || b.query.trim() === "") {
    return { ok: false, error: "field 'query' must be a non-empty string" };
  }
  const query = b.query.trim();
  if (query.length > MAX_QUERY_CHARS) {
    return {
      ok: false,
      error: `field 'query' is ${query.length} characters; the limit is ${MAX_QUERY_CHARS}`,
    };
  }
  if (hasNul(query)) return { ok: false, error: "field 'query' must not contain NUL (\\u0000) characters" };
  const k = b.k ?? 10;
  if (typeof k !== "number" || !Number.isInteger(k) || k < 1 || k > MAX_K) {
    return { ok: false, error: `field 'k' must be an integer from 1 to ${MAX_K}` };
  }
  const source = b.source;
  // Ids are bigint in the database; a JSON number above 2^53 is not even read exactly.
  const validId = typeof source === "number" && Number.isSafeInteger(source) && source > 0;
  const validName =
    typeof source === "string" && source !== "" && source.length <= MAX_SOURCE_NAME_CHARS && !hasNul(source);
  if (source !== undefined && !validId && !validName) {
    return {
      ok: false,
      error: `field 'source' must be a source id (an integer from 1 to ${Number.MAX_SAFE_INTEGER}) or a source name (at most ${MAX_SOURCE_NAME_CHARS} characters, no NUL)`,
    };
  }
  return { ok: true, value: { query, k, source: source as number | string | undefined } };
}

async function readSearchRequest(req: Request): Promise<SearchRequest> {
  const body = await readJsonBody(req, 16 * 1024).catch((err) => {
    // A body cut off in transit: the client's to send again, not a failure of search.
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, "the request body could not be read");
  });
  const parsed = parseSearchRequest(body);
  if (!parsed.ok) throw new HttpError(400, parsed.error);
  return parsed.value;
}

export function searchHandler(
  deps: () => Promise<SearchDeps>,
  log: Logger = createLogger({ component: "search" }),
) {
  return endpoint<SearchDeps, SearchRequest>(
    {
      method: "POST",
      usage: 'use POST {"query": "...", "k": 5}',
      headers: corsHeaders("POST"),
      input: readSearchRequest,
      failure: {
        status: 500,
        error: "search failed; the details are in the function's log",
        withoutDetail: true,
      },
      async handle(_req, d, request) {
        const started = performance.now();
        const { embedder, note } = d.query;
        let vector: number[] | undefined;
        if (embedder) {
          try {
            [vector] = await embedder.embed([request.query]);
          } catch (err) {
            log.error("query embedding failed", { model: embedder.model, error: errorMessage(err) });
            throw new HttpError(
              502,
              "the query could not be embedded; try again (details in the function's log)",
            );
          }
        }
        const embedMs = performance.now() - started;
        const hits = await d.search(vector, request, embedder?.model);
        if (hits === null) throw new HttpError(400, `no source named ${JSON.stringify(request.source)}`);
        const mode: SearchMode = vector ? "hybrid" : "text";
        return json(200, {
          query: request.query,
          mode,
          model: embedder?.model ?? null,
          ...(note ? { note } : {}),
          timings_ms: { embed: Math.round(embedMs), total: Math.round(performance.now() - started) },
          results: hits,
        });
      },
    },
    deps,
    log,
  );
}
