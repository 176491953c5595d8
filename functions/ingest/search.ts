// The `search` Edge Function's logic: validate `{query, k?, source?}`, embed the query with the model that
// indexed the corpus, and run the one hybrid SQL function. No Resonate on this path.
import { HttpError, json, readJsonBody } from "../shared/http.ts";
import type { Validation } from "../shared/webhook.ts";
import type { Embedder } from "./embeddings.ts";

export const MAX_QUERY_CHARS = 1000;
export const MAX_K = 50;

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
  content: string;
  similarity: number | null;
  text_rank: number | null;
  score: number;
}

export interface SearchDeps {
  embedder: Embedder;
  /** Runs public.search_chunks; `source` is resolved to an id (unknown name → null result). */
  search(vector: number[], req: SearchRequest, model: string): Promise<SearchHit[] | null>;
}

export function parseSearchRequest(body: unknown): Validation<SearchRequest> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, error: 'body must be a JSON object like {"query": "...", "k": 5}' };
  }
  const b = body as Record<string, unknown>;
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
  const k = b.k ?? 10;
  if (typeof k !== "number" || !Number.isInteger(k) || k < 1 || k > MAX_K) {
    return { ok: false, error: `field 'k' must be an integer from 1 to ${MAX_K}` };
  }
  const source = b.source;
  if (
    source !== undefined &&
    !(typeof source === "string" && source !== "") &&
    !(Number.isInteger(source) && (source as number) > 0)
  ) {
    return { ok: false, error: "field 'source' must be a source id or a source name" };
  }
  return { ok: true, value: { query, k, source: source as number | string | undefined } };
}

const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-headers": "authorization, x-client-info, apikey, content-type",
  "access-control-allow-methods": "POST, OPTIONS",
};

export function searchHandler(deps: () => Promise<SearchDeps>) {
  return async (req: Request): Promise<Response> => {
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: CORS });
    if (req.method !== "POST") return json(405, { error: 'use POST {"query": "...", "k": 5}' }, CORS);
    try {
      const parsed = parseSearchRequest(await readJsonBody(req, 16 * 1024));
      if (!parsed.ok) return json(400, { error: parsed.error }, CORS);
      const d = await deps();
      const started = performance.now();
      const [vector] = await d.embedder.embed([parsed.value.query]);
      const embedMs = performance.now() - started;
      const hits = await d.search(vector!, parsed.value, d.embedder.model);
      if (hits === null)
        return json(400, { error: `no source named ${JSON.stringify(parsed.value.source)}` }, CORS);
      return json(
        200,
        {
          query: parsed.value.query,
          model: d.embedder.model,
          timings_ms: { embed: Math.round(embedMs), total: Math.round(performance.now() - started) },
          results: hits,
        },
        CORS,
      );
    } catch (err) {
      if (err instanceof HttpError) return json(err.status, { error: err.message }, CORS);
      return json(500, { error: "search failed", detail: (err as Error).message }, CORS);
    }
  };
}
