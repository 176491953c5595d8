// Crawls fetch only public addresses: a source (or a redirect, or a host name) pointing at loopback or
// a private network is refused with a message, unless LOCAL_MODE allows it, as on the local stack.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FetchError, fetchText, rateLimitWaitMs } from "../../../functions/ingest/fetch.ts";
import { githubIssues, nextLink } from "../../../functions/ingest/sources/github-issues.ts";

let server: Server;
let base: string;
const opts = { timeoutMs: 5_000, maxRateLimitWaitMs: 0 };

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/health") res.writeHead(200, { "content-type": "application/json" }).end('{"secret":1}');
    else if (req.url === "/bad-hop") res.writeHead(302, { location: "http://[bad" }).end();
    else if (req.url === "/echo-auth") res.writeHead(200).end(req.headers.authorization ?? "none");
    else if (req.url?.startsWith("/to?u="))
      res.writeHead(302, { location: decodeURIComponent(req.url.slice(6)) }).end();
    else if (req.url === "/hop") res.writeHead(302, { location: "/health" }).end();
    else if (req.url === "/emoji-error") res.writeHead(500).end(`${"e".repeat(199)}${"😀".repeat(20)}`);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe("fetchText", () => {
  it("refuses loopback and private addresses, by literal or by name, unless LOCAL_MODE allows them", async () => {
    vi.stubEnv("LOCAL_MODE", "false");
    const port = new URL(base).port;
    for (const url of [
      `${base}/health`,
      `http://localhost:${port}/health`,
      `http://[::ffff:7f00:1]:${port}/health`,
      "http://[::ffff:169.254.169.254]/latest/meta-data",
      "http://169.254.169.254/latest/meta-data",
    ]) {
      const err = await fetchText(url, opts).catch((e: Error) => e);
      expect(err, url).toBeInstanceOf(FetchError);
      expect((err as Error).message, url).toMatch(
        /refused: .*private or local address; sources may only be fetched from public addresses \(LOCAL_MODE allows loopback, except the local stack's own services\)/,
      );
    }
    vi.stubEnv("LOCAL_MODE", "true");
    expect((await fetchText(`${base}/health`, opts)).body).toBe('{"secret":1}');
  });

  it("follows redirects by hand and checks every hop", async () => {
    vi.stubEnv("LOCAL_MODE", "true");
    const res = await fetchText(`${base}/hop`, opts);
    expect(res).toMatchObject({ status: 200, body: '{"secret":1}' });
    expect(res.headers.get("content-type")).toBe("application/json");
    await expect(fetchText(`${base}/missing`, opts)).rejects.toThrow(/HTTP 404/);
    // The error page is quoted in part, cut between characters: the message is stored as the item's error.
    await expect(fetchText(`${base}/emoji-error`, opts)).rejects.toThrow(
      new RegExp(`HTTP 500 ${"e".repeat(199)}$`),
    );
    await expect(fetchText("ftp://example.com/x", opts)).rejects.toThrow(/only http\(s\) URLs are fetched/);
    await expect(fetchText(`${base}/bad-hop`, opts)).rejects.toThrow(
      /redirects to an invalid URL http:\/\/\[bad/,
    );
  });
});

describe("the authorization header", () => {
  it("goes only to its origin, not to another host a redirect points at", async () => {
    vi.stubEnv("LOCAL_MODE", "true");
    const other = base.replace("127.0.0.1", "localhost");
    const auth = { ...opts, headers: { authorization: "Bearer t0ken" }, authOrigin: base };
    expect((await fetchText(`${base}/echo-auth`, auth)).body).toBe("Bearer t0ken");
    expect((await fetchText(`${other}/echo-auth`, auth)).body).toBe("none");
    const away = `${base}/to?u=${encodeURIComponent(`${other}/echo-auth`)}`;
    expect((await fetchText(away, auth)).body).toBe("none");
  });
});

describe("github_issues token_env", () => {
  it("sends only variables meant for it, never the worker's other secrets", () => {
    vi.stubEnv("GITHUB_TOKEN_TEST_ACME", "ghp_test");
    for (const name of ["DATABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "OPENAI_API_KEY", "github_token"]) {
      const r = githubIssues.parseConfig({ repo: "o/r", token_env: name });
      expect(r.ok, name).toBe(false);
      if (!r.ok) expect(r.error).toMatch(/config\.token_env must name a variable starting with GITHUB_TOKEN/);
    }
    const ok = githubIssues.parseConfig({ repo: "o/r", token_env: "GITHUB_TOKEN_TEST_ACME" });
    expect(ok).toMatchObject({
      ok: true,
      value: { fetch: { headers: { authorization: "Bearer ghp_test" } } },
    });
    expect(githubIssues.parseConfig({ repo: "o/r", token_env: "GITHUB_TOKEN_NOT_SET" })).toEqual({
      ok: false,
      error: "config.token_env names GITHUB_TOKEN_NOT_SET, which is not set on the worker",
    });
  });
});

describe("rate limits", () => {
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
