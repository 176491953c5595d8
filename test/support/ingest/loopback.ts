// A loopback web server playing a website (sitemap + pages), an RSS feed, a malformed feed and the GitHub
// issues API, with the faults the crawler must survive: a 500 page, a page slower than the crawler's
// timeout, a 403 rate limit carrying a reset header, malformed XML. Counts every request by path so tests
// can prove what was (not) fetched again.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Loopback {
  url: string;
  counts: Map<string, number>;
  count(path: string): number;
  /** Delay for every /pages/* and /posts/* answer, so a crash test can kill the worker mid-crawl. */
  setPageDelay(ms: number): void;
  close(): Promise<void>;
}

export const PAGES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"];
const SLOW_MS = 4_000;

function page(name: string): string {
  return `<!doctype html><html><head><title>Page ${name}</title><style>body{}</style></head><body>
<nav>Home | About</nav><h1>Page ${name}</h1><p>The ${name} page explains the ${name} widget calibration steps.</p>
<h2>Details</h2><p>Calibrate ${name} with a torque of ${name.length} newton metres &amp; check the dial.</p>
<script>track()</script></body></html>`;
}

const FEED = (base: string) => `<?xml version="1.0"?>
<rss version="2.0"><channel><title>News</title>
<item><title>Release one</title><link>${base}/posts/1</link><guid>p1</guid></item>
<item><title>Release two</title><link>${base}/posts/2</link><guid>p2</guid></item>
</channel></rss>`;

const BAD_FEED = `<?xml version="1.0"?><rss version="2.0"><channel><title>Broken<item></channel></rss>`;

interface Issue {
  number: number;
  title: string;
  body: string;
  pull_request?: unknown;
}

const ISSUES: Issue[] = [
  {
    number: 1,
    title: "Crash when exporting reports",
    body: "Exporting a report with 0 rows crashes the exporter.",
  },
  { number: 2, title: "Add dark mode", body: "Please add a dark colour scheme to the dashboard." },
  { number: 3, title: "Fix typo", body: "Typo in README", pull_request: { url: "x" } },
  { number: 4, title: "Slow search on large corpora", body: "Search takes seconds with a million chunks." },
];

export async function startLoopback(): Promise<Loopback> {
  const counts = new Map<string, number>();
  let pageDelay = 0;
  let rateLimitedOnce = false;
  const server: Server = createServer(async (req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    const path = u.pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const send = (status: number, body: string, type = "text/html", headers: Record<string, string> = {}) => {
      if (res.destroyed) return;
      res.writeHead(status, { "content-type": type, ...headers });
      res.end(body);
    };
    if (path === "/sitemap.xml") {
      const urls = [...PAGES, "broken", "slow"]
        .map((p) => `<url><loc>${base}/pages/${p}</loc></url>`)
        .join("");
      return send(
        200,
        `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${urls}</urlset>`,
        "application/xml",
      );
    }
    if (path === "/feed.xml") return send(200, FEED(base), "application/rss+xml");
    if (path === "/bad-feed.xml") return send(200, BAD_FEED, "application/rss+xml");
    const pageMatch = /^\/(pages|posts)\/([\w-]+)$/.exec(path);
    if (pageMatch) {
      const name = pageMatch[2]!;
      if (name === "broken") return send(500, "internal error");
      await new Promise((r) => setTimeout(r, name === "slow" ? SLOW_MS : pageDelay));
      return send(200, pageMatch[1] === "posts" ? page(`post${name}`) : page(name));
    }
    const api = /^\/api\/repos\/acme\/widgets\/issues(?:\/(\d+))?(\/comments)?$/.exec(path);
    if (api) {
      const json = (v: unknown, headers: Record<string, string> = {}) =>
        send(200, JSON.stringify(v), "application/json", { "x-ratelimit-remaining": "50", ...headers });
      if (!api[1]) {
        const pageNo = Number(u.searchParams.get("page") ?? "1");
        const per = Number(u.searchParams.get("per_page") ?? "30");
        const slice = ISSUES.slice((pageNo - 1) * per, pageNo * per).map((i) => ({
          ...i,
          html_url: `${base}/issues/${i.number}`,
          state: "open",
        }));
        const hasNext = pageNo * per < ISSUES.length;
        const next = `${base}/api/repos/acme/widgets/issues?state=all&per_page=${per}&page=${pageNo + 1}`;
        return json(slice, hasNext ? { link: `<${next}>; rel="next"` } : {});
      }
      const issue = ISSUES.find((i) => i.number === Number(api[1]));
      if (!issue) return send(404, "{}", "application/json");
      if (issue.number === 2 && !api[2] && !rateLimitedOnce) {
        rateLimitedOnce = true;
        const reset = Math.ceil(Date.now() / 1000) + 1;
        return send(403, JSON.stringify({ message: "API rate limit exceeded" }), "application/json", {
          "x-ratelimit-remaining": "0",
          "x-ratelimit-reset": String(reset),
        });
      }
      if (api[2])
        return json([
          {
            body: `A comment on issue ${issue.number}: reproduced.`,
            user: { login: "sam" },
            created_at: "2026-11-01T00:00:00Z",
          },
        ]);
      return json({
        ...issue,
        html_url: `${base}/issues/${issue.number}`,
        state: "open",
        user: { login: "ada" },
      });
    }
    send(404, "not found");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    counts,
    count: (p) => counts.get(p) ?? 0,
    setPageDelay: (ms) => {
      pageDelay = ms;
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
