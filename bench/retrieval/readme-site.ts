// A loopback documentation site for the retrieval benchmark: each package's README from node_modules as an
// HTML page at /pkg/<name>, listed in /sitemap.xml, so the pages go through the crawl's own path (sitemap
// listing, HTML to text) as a real documentation site's would. The markdown is rendered the way such sites
// do it, minimally: headings (ATX and underlined), fenced and indented code, lists, paragraphs, links and
// images; HTML already in a README passes through, as on npm or GitHub.
import { readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { ROOT } from "../../scripts/stack/layout.ts";

export interface ReadmeSite {
  url: string;
  close(): Promise<void>;
}

export function readmePath(pkg: string): string {
  const dir = join(ROOT, "node_modules", pkg);
  const file = readdirSync(dir).find((f) => /^readme\.md$/i.test(f));
  if (!file) throw new Error(`${pkg} has no README.md`);
  return join(dir, file);
}

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

// Inline markdown; a "<" that starts no tag (as in "a < b") is escaped, as a markdown renderer does.
function inline(s: string): string {
  return s
    .split(/(`[^`]+`)/)
    .map((part, i) =>
      i % 2 === 1
        ? `<code>${escapeHtml(part.slice(1, -1))}</code>`
        : part
            .replace(/<(?![A-Za-z/!])/g, "&lt;")
            .replace(/!\[([^\]]*)\]\(([^)\s]*)[^)]*\)/g, '<img alt="$1" src="$2">')
            .replace(/\[([^\]]*)\]\(([^)\s]*)[^)]*\)/g, '<a href="$2">$1</a>')
            .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>"),
    )
    .join("");
}

export function markdownToHtml(md: string): string {
  const out: string[] = [];
  const lines = md.replace(/\r\n?/g, "\n").split("\n");
  let para: string[] = [];
  const flush = () => {
    if (para.length) out.push(`<p>${inline(para.join(" "))}</p>`);
    para = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      flush();
      const code: string[] = [];
      while (++i < lines.length && !lines[i]!.trim().startsWith(fence[1]!)) code.push(lines[i]!);
      out.push(`<pre><code>${escapeHtml(code.join("\n"))}</code></pre>`);
      continue;
    }
    const atx = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    const underline = /^(=+|-+)\s*$/.exec(lines[i + 1] ?? "");
    if (atx) {
      flush();
      out.push(`<h${atx[1]!.length}>${inline(atx[2]!)}</h${atx[1]!.length}>`);
    } else if (underline && line.trim() && para.length === 0) {
      out.push(underline[1]!.startsWith("=") ? `<h1>${inline(line)}</h1>` : `<h2>${inline(line)}</h2>`);
      i++;
    } else if (/^\s*([-*+]|\d+\.)\s+/.test(line)) {
      flush();
      out.push(`<li>${inline(line.replace(/^\s*([-*+]|\d+\.)\s+/, ""))}</li>`);
    } else if (/^( {4}|\t)/.test(line) && para.length === 0) {
      out.push(`<pre><code>${escapeHtml(line.trim())}</code></pre>`);
    } else if (!line.trim()) {
      flush();
    } else {
      para.push(line.trim());
    }
  }
  flush();
  return out.join("\n");
}

export async function startReadmeSite(packages: string[]): Promise<ReadmeSite> {
  const pages = new Map(
    packages.map((pkg) => [
      `/pkg/${pkg}`,
      `<!doctype html><html><head><title>${pkg}</title></head><body><main>${markdownToHtml(readFileSync(readmePath(pkg), "utf8"))}</main></body></html>`,
    ]),
  );
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (path === "/sitemap.xml") {
      const urls = [...pages.keys()].map((p) => `<url><loc>${base}${encodeURI(p)}</loc></url>`).join("");
      res.writeHead(200, { "content-type": "application/xml" });
      res.end(
        `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${urls}</urlset>`,
      );
      return;
    }
    const page = pages.get(path);
    res.writeHead(page ? 200 : 404, { "content-type": "text/html; charset=utf-8" });
    res.end(page ?? "not found");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
