// Pure logic of the ingest workload, no database: XML and HTML parsing, chunking, dedup, run ids,
// rate-limit waits, request validation, and the OpenAI embedder's client code against a loopback server.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { chunkMarkdown, embeddingText, leadParagraph } from "../../functions/ingest/chunk.ts";
import { dedupByHash } from "../../functions/ingest/dedup.ts";
import { embeddingsConfigFromEnv, openaiEmbedder } from "../../functions/ingest/embeddings.ts";
import { rateLimitWaitMs } from "../../functions/ingest/fetch.ts";
import { htmlToText } from "../../functions/ingest/html.ts";
import { runIdFor } from "../../functions/ingest/run-id.ts";
import { parseSearchRequest, type SearchDeps, searchHandler } from "../../functions/ingest/search.ts";
import {
  queryEmbeddingFromEnv,
  searchFunctionEmbeddingsProblem,
} from "../../functions/ingest/search-embedder.ts";
import { nextLink } from "../../functions/ingest/sources/github_issues.ts";
import { markdownDir } from "../../functions/ingest/sources/markdown_dir.ts";
import { parseFeed } from "../../functions/ingest/sources/rss.ts";
import { parseSitemap, sitemap } from "../../functions/ingest/sources/sitemap.ts";
import { parseTriggerRequest, triggerHandler } from "../../functions/ingest/trigger.ts";
import { parseXml } from "../../functions/ingest/xml.ts";
import { createLogger } from "../../functions/shared/log.ts";

describe("xml", () => {
  it("parses sitemaps and feeds, and names what is wrong with malformed XML", () => {
    expect(
      parseSitemap(
        '<?xml version="1.0"?><urlset><url><loc>http://h/a?x=1&amp;y=2</loc></url><url><loc>http://h/a?x=1&amp;y=2</loc></url></urlset>',
        "http://h/sitemap.xml",
      ),
    ).toEqual([{ key: "/a?x=1&y=2", url: "http://h/a?x=1&y=2" }]);
    expect(
      parseFeed(
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>T</title><link href="/p/1"/><id>1</id></entry></feed>',
        "http://h/feed",
      ),
    ).toEqual([{ key: "/p/1", url: "http://h/p/1", title: "T" }]);
    expect(parseXml("<a><![CDATA[<b>]]></a>").text).toBe("<b>");
    expect(() => parseXml("<rss><channel><item></channel></rss>")).toThrow(
      /closing tag <\/channel> at line 1 does not match <item>/,
    );
    expect(() => parseXml("<rss><channel>")).toThrow(/ends inside <channel>/);
    expect(() => parseSitemap("<html></html>", "http://h/")).toThrow(/expected <urlset>/);
  });
});

describe("html", () => {
  it("keeps the title, turns headings into markdown and drops scripts and navigation", () => {
    const page = htmlToText(
      "<html><head><title>Hi &amp; bye</title></head><body><nav>menu</nav><h2>Part</h2><p>one<br>two</p><script>x()</script></body></html>",
    );
    expect(page.title).toBe("Hi & bye");
    expect(page.text).toBe("## Part\n\none\ntwo");
  });
});

describe("chunkMarkdown", () => {
  it("splits on headings outside code fences and keeps the heading path", () => {
    const chunks = chunkMarkdown("# A\nintro\n## B\nbody b\n```\n# not a heading\n```\n# C\nbody c");
    expect(chunks.map((c) => c.headingPath)).toEqual([["A"], ["A", "B"], ["C"]]);
    expect(chunks[1]!.content).toContain("# not a heading");
    expect(embeddingText("Doc", chunks[1]!)).toMatch(/^Doc > A > B\n/);
  });

  it("puts the page's opening paragraph into every chunk's embedded text, skipping badges", () => {
    const md =
      "# Lib\n[![npm](https://img/x.svg)](https://npm/x)\n\nA tiny library that parses cron expressions into schedules for Node.\n\n## API\nCall parse(expr).";
    const lead = leadParagraph(md);
    expect(lead).toBe("A tiny library that parses cron expressions into schedules for Node.");
    const chunks = chunkMarkdown(md);
    expect(embeddingText("Lib", chunks.at(-1)!, lead)).toBe(`Lib > Lib > API\n${lead}\nCall parse(expr).`);
    // The chunk that holds the lead does not get it twice.
    expect(embeddingText("Lib", chunks[0]!, lead).split(lead).length).toBe(2);
    expect(leadParagraph(`# T\n${"word ".repeat(100)}`).length).toBeLessThanOrEqual(240);
  });

  it("bounds chunk size and overlaps consecutive chunks of a section", () => {
    const para = (n: number) => `Paragraph ${n} ${"word ".repeat(40)}end${n}.`;
    const text = `# Long\n${Array.from({ length: 12 }, (_, i) => para(i)).join("\n\n")}`;
    const chunks = chunkMarkdown(text, { maxChars: 500, overlapChars: 80 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) expect(c.content.length).toBeLessThanOrEqual(500);
    for (let i = 1; i < chunks.length; i++) {
      const tail = chunks[i - 1]!.content.slice(-30);
      expect(chunks[i]!.content.slice(0, 120)).toContain(tail.slice(tail.indexOf(" ") + 1));
    }
    const long = chunkMarkdown(`x ${"a".repeat(3000)}`, { maxChars: 400, overlapChars: 50 });
    for (const c of long) expect(c.content.length).toBeLessThanOrEqual(400);
  });
});

describe("dedupByHash", () => {
  it("keeps the copy from the highest priority, then lowest source id, then path", () => {
    const row = (stagingId: string, sourceId: number, priority: number, contentHash = "h") => ({
      stagingId,
      sourceId,
      sourcePath: stagingId,
      contentHash,
      priority,
    });
    const { kept, dropped } = dedupByHash([
      row("b", 2, 1),
      row("a", 3, 5),
      row("c", 1, 5),
      row("z", 9, 0, "other"),
    ]);
    expect(kept.map((k) => k.stagingId).sort()).toEqual(["c", "z"]);
    expect(dropped.map((d) => [d.row.stagingId, d.keptStagingId])).toEqual([
      ["a", "c"],
      ["b", "c"],
    ]);
  });
});

describe("run ids and rate limits", () => {
  it("uses the UTC date, with a time suffix when forced", () => {
    expect(runIdFor(new Date("2026-11-21T23:59:59.123Z"), false)).toBe("2026-11-21");
    expect(runIdFor(new Date("2026-11-21T03:04:05.678Z"), true)).toBe("2026-11-21-force-030405678");
  });

  it("reads GitHub's reset header and retry-after", () => {
    const now = 1_000_000_000;
    expect(
      rateLimitWaitMs(
        403,
        new Headers({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(now / 1000 + 7) }),
        now,
      ),
    ).toBe(7000);
    expect(rateLimitWaitMs(429, new Headers({ "retry-after": "3" }), now)).toBe(3000);
    expect(rateLimitWaitMs(403, new Headers(), now)).toBeNull();
    expect(rateLimitWaitMs(500, new Headers({ "retry-after": "3" }), now)).toBeNull();
    expect(nextLink('<http://a/?page=2>; rel="next", <http://a/?page=9>; rel="last"')).toBe(
      "http://a/?page=2",
    );
  });
});

describe("request validation", () => {
  it("ingest: empty body or {force}; unknown fields and wrong types are 400 with the fix", async () => {
    expect(parseTriggerRequest(undefined)).toEqual({ ok: true, value: { force: false, trigger: "manual" } });
    expect(parseTriggerRequest({ force: "yes" })).toEqual({
      ok: false,
      error: "field 'force' must be true or false",
    });
    expect(parseTriggerRequest({ forse: true })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/unknown field\(s\) forse/),
    });
    const started: string[] = [];
    const handler = triggerHandler(async () => ({
      secret: "s3cret",
      now: () => new Date("2026-11-21T03:00:00Z"),
      start: async (_runId, workflowId) => {
        started.push(workflowId);
        return { created: started.length === 1 };
      },
    }));
    const post = (body?: string, auth = "Bearer s3cret") =>
      handler(new Request("http://x/ingest", { method: "POST", headers: { authorization: auth }, body }));
    expect((await post(undefined, "Bearer nope")).status).toBe(401);
    const first = await post();
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({
      workflow_id: "ingest/2026-11-21",
      run_id: "2026-11-21",
      created: true,
    });
    expect(await (await post("{}")).json()).toMatchObject({
      workflow_id: "ingest/2026-11-21",
      created: false,
    });
    expect((await post('{"force": 1}')).status).toBe(400);
    expect(started).toEqual(["ingest/2026-11-21", "ingest/2026-11-21"]);
  });

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

describe("openai embedder", () => {
  it("posts batches with 512 dimensions, reorders by index, and reports HTTP errors", async () => {
    const seen: { auth: string | undefined; body: { input: string[]; dimensions: number; model: string } }[] =
      [];
    const server = createServer((req, res) => {
      let raw = "";
      req.on("data", (d) => {
        raw += d;
      });
      req.on("end", () => {
        const body = JSON.parse(raw);
        seen.push({ auth: req.headers.authorization, body });
        if (body.input.includes("fail")) {
          res.writeHead(429, { "content-type": "application/json" }).end('{"error":"slow down"}');
          return;
        }
        const data = body.input
          .map((t: string, index: number) => ({ index, embedding: new Array(512).fill(t.length) }))
          .reverse();
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    try {
      const cfg = embeddingsConfigFromEnv(
        (n) =>
          ({
            INGEST_EMBEDDINGS: "openai",
            OPENAI_API_KEY: "k",
            OPENAI_BASE_URL: baseUrl,
            INGEST_EMBED_BATCH: "2",
          })[n],
      );
      if (cfg.provider !== "openai") throw new Error("expected openai config");
      const e = openaiEmbedder(cfg);
      const vectors = await e.embed(["a", "bb", "ccc"]);
      expect(vectors.map((v) => v[0])).toEqual([1, 2, 3]);
      expect(seen.map((s) => s.body.input)).toEqual([["a", "bb"], ["ccc"]]);
      expect(seen[0]).toMatchObject({
        auth: "Bearer k",
        body: { dimensions: 512, model: "text-embedding-3-small" },
      });
      expect(e.model).toBe("openai:text-embedding-3-small@512");
      await expect(e.embed(["fail"])).rejects.toThrow(/HTTP 429/);
      expect(() => embeddingsConfigFromEnv((n) => ({ INGEST_EMBEDDINGS: "openai" })[n])).toThrow(
        /needs OPENAI_API_KEY/,
      );
    } finally {
      server.close();
    }
  });
});

describe("source configs", () => {
  it("name a misspelled key instead of ignoring it, and refuse a config that is not an object", () => {
    expect(sitemap.parseConfig({ url: "https://example.com/sitemap.xml", max_item_per_run: 1 })).toEqual({
      ok: false,
      error: expect.stringMatching(
        /^config has unknown key max_item_per_run; known keys: .*max_items_per_run.*url/,
      ),
    });
    expect(sitemap.parseConfig(["https://example.com/sitemap.xml"])).toEqual({
      ok: false,
      error: "config must be a JSON object",
    });
    expect(
      sitemap.parseConfig({ url: "https://example.com/sitemap.xml", max_items_per_run: 1 }),
    ).toMatchObject({
      ok: true,
      value: { maxItemsPerRun: 1 },
    });
  });

  it("read markdown_dir folders only below INGEST_FILE_ROOT", () => {
    const root = process.cwd();
    for (const path of ["/etc", "../", `${root}/../elsewhere`]) {
      const r = markdownDir.parseConfig({ path });
      expect(r.ok, path).toBe(false);
      if (!r.ok)
        expect(r.error).toMatch(
          /^config\.path .* is outside INGEST_FILE_ROOT \(.*\); markdown_dir sources read only below it$/,
        );
    }
    expect(markdownDir.parseConfig({ path: "docs" })).toMatchObject({
      ok: true,
      value: { path: `${root}/docs` },
    });
    const before = process.env.INGEST_FILE_ROOT;
    process.env.INGEST_FILE_ROOT = "/etc";
    try {
      expect(markdownDir.parseConfig({ path: "/etc/ssl" })).toMatchObject({ ok: true });
    } finally {
      if (before === undefined) delete process.env.INGEST_FILE_ROOT;
      else process.env.INGEST_FILE_ROOT = before;
    }
  });
});
