// The CORS headers of a function that pages call from any origin. The endpoint skeleton (endpoint.ts) sets
// them on every answer, errors and the OPTIONS preflight included: a browser hides an answer without them
// from the page, so an error the page cannot read would tell its user nothing.

/** Allows the headers supabase-js sends (authorization, x-client-info, apikey) with `methods`. */
export function corsHeaders(...methods: ("GET" | "POST")[]): Record<string, string> {
  return {
    "access-control-allow-origin": "*",
    "access-control-allow-headers": "authorization, x-client-info, apikey, content-type",
    "access-control-allow-methods": [...methods, "OPTIONS"].join(", "),
  };
}
