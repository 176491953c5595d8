import { describe, expect, it } from "vitest";
import { parseSearchRequest, type SearchDeps, searchHandler } from "../../../functions/ingest/search.ts";
import { createLogger } from "../../../functions/shared/log.ts";

describe("request validation", () => {
  it("search: 400 for an empty or oversized query or a bad k", async () => {
    expect(parseSearchRequest({ query: "  " })).toEqual({
      ok: false,
      error: "field 'query' must be a non-empty string",
    });
    expect(parseSearchRequest({ query: "x".repeat(1001) })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/1001 characters; the limit is 1000/),
    });
    expect(parseSearchRequest({ query: "q", k: 0 })).toMatchObject({ ok: false });
    expect(parseSearchRequest({ query: " q ", source: "docs" })).toEqual({
      ok: true,
      value: { query: "q", k: 10, source: "docs" },
    });
    const handler = searchHandler(async () => {
      throw new Error("deps must not be built for an invalid request");
    });
    const res = await handler(
      new Request("http://x/search", { method: "POST", body: JSON.stringify({ query: "" }) }),
    );
    expect(res.status).toBe(400);
  });

  it("search: a field it does not know (limit, mode) is a 400 naming it, not silently ignored", () => {
    expect(parseSearchRequest({ query: "q", limit: 3, mode: "text" })).toEqual({
      ok: false,
      error: 'unknown field(s) "limit", "mode"; allowed: query, k, source',
    });
  });

  it("search: a source id past 2^53 (1e20) or a NUL byte is a 400 naming the field, never a 500 with the database's text", async () => {
    expect(parseSearchRequest({ query: "q", source: 1e20 })).toEqual({
      ok: false,
      error:
        "field 'source' must be a source id (an integer from 1 to 9007199254740991) or a source name (at most 200 characters, no NUL)",
    });
    expect(parseSearchRequest({ query: "q\u0000x" })).toEqual({
      ok: false,
      error: "field 'query' must not contain NUL (\\u0000) characters",
    });
    expect(parseSearchRequest({ query: "q", source: "a\u0000b" })).toMatchObject({ ok: false });
    expect(parseSearchRequest({ query: "q", source: 9007199254740991 })).toMatchObject({ ok: true });

    const logged: string[] = [];
    const failing: SearchDeps = {
      query: { embedder: undefined, note: undefined },
      search: async () => {
        throw new Error('value "100000000000000000000" is out of range for type bigint');
      },
    };
    const handler = searchHandler(
      async () => failing,
      createLogger({}, (l) => logged.push(l)),
    );
    const res = await handler(new Request("http://x/search", { method: "POST", body: '{"query":"q"}' }));
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toMatch(/bigint|out of range/);
    expect(JSON.parse(text)).toEqual({ error: "search failed; the details are in the function's log" });
    expect(logged.join("\n")).toMatch(/out of range for type bigint/);
  });

  it("search: a provider that cannot embed the query is a 502 without the provider's text", async () => {
    const deps: SearchDeps = {
      query: {
        embedder: {
          model: "openai:m@512",
          embed: async () => {
            throw new Error("OpenAI embeddings: HTTP 401 Incorrect API key provided: sk-abc");
          },
        },
        note: undefined,
      },
      search: async () => [],
    };
    const res = await searchHandler(
      async () => deps,
      createLogger({}, () => {}),
    )(new Request("http://x/search", { method: "POST", body: '{"query":"q"}' }));
    expect(res.status).toBe(502);
    expect(await res.text()).not.toMatch(/sk-abc|401/);
  });
});
