// The corpus the ingest runs crawl, which changes between runs: a sitemap of HTML pages served by the
// soak's origin server and a folder of markdown files. Each version edits two documents of each
// source, drops one and adds one. Every document's text carries a marker with its revision
// ("soakmark <slug> r<rev> end"), so the index can be checked against the version a run crawled.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Random } from "./random.ts";

export interface Doc {
  slug: string;
  rev: number;
}

export interface Expected {
  source: string;
  title: string;
  rev: number;
}

export interface Corpus {
  version: number;
  /** Moves to the next version (pages and files change) and returns what it holds. */
  advance(): Expected[];
  expected(): Expected[];
  /** The origin server's handler for /corpus/...; undefined for a path it does not serve. */
  page(path: string): { type: string; body: string } | undefined;
  sources: { sitemap: string; markdown: string };
}

const WORDS =
  "durable queue worker lease batch import image crawl index chunk vector search restart crash resume retry promise task signal pooler webhook trigger storage staging corpus version".split(
    " ",
  );

function text(rnd: Random, doc: Doc): string[] {
  const para = () => Array.from({ length: rnd.int(40, 90) }, () => rnd.pick(WORDS)).join(" ");
  return [`soakmark ${doc.slug} r${doc.rev} end. ${para()}.`, `${para()}.`, `${para()}.`];
}

function html(rnd: Random, doc: Doc): string {
  const paras = text(rnd, doc)
    .map((p) => `<p>${p}</p>`)
    .join("\n");
  return `<!doctype html><html><head><title>soak ${doc.slug}</title></head><body><h1>soak ${doc.slug}</h1>\n${paras}\n</body></html>`;
}

function markdown(rnd: Random, doc: Doc): string {
  return `# soak ${doc.slug}\n\n${text(rnd, doc).join("\n\n")}\n`;
}

export function corpus(rnd: Random, opts: { run: string; dir: string; origin: () => string }): Corpus {
  const names = { sitemap: `soak-${opts.run}-sitemap`, markdown: `soak-${opts.run}-markdown` };
  const pages = new Map<string, Doc>();
  const files = new Map<string, Doc>();
  let next = 0;
  const add = (docs: Map<string, Doc>, prefix: string) => {
    const slug = `${prefix}${String(++next).padStart(3, "0")}`;
    docs.set(slug, { slug, rev: 0 });
  };
  const bodies = new Map<string, string>();
  const render = () => {
    bodies.clear();
    for (const d of pages.values()) bodies.set(`/corpus/${d.slug}.html`, html(rnd, d));
    rmSync(opts.dir, { recursive: true, force: true });
    mkdirSync(opts.dir, { recursive: true });
    for (const d of files.values()) writeFileSync(join(opts.dir, `${d.slug}.md`), markdown(rnd, d));
  };
  const change = (docs: Map<string, Doc>, prefix: string) => {
    const slugs = [...docs.keys()];
    for (let i = 0; i < 2; i++) docs.get(rnd.pick(slugs))!.rev++;
    docs.delete(rnd.pick(slugs));
    add(docs, prefix);
  };
  for (let i = 0; i < 10; i++) add(pages, "p");
  for (let i = 0; i < 5; i++) add(files, "m");
  render();

  const expected = (): Expected[] => [
    ...[...pages.values()].map((d) => ({ source: names.sitemap, title: `soak ${d.slug}`, rev: d.rev })),
    ...[...files.values()].map((d) => ({ source: names.markdown, title: `soak ${d.slug}`, rev: d.rev })),
  ];
  const self: Corpus = {
    version: 0,
    sources: names,
    expected,
    advance() {
      change(pages, "p");
      change(files, "m");
      render();
      self.version++;
      return expected();
    },
    page(path) {
      if (path === "/corpus/sitemap.xml") {
        const urls = [...pages.values()]
          .map((d) => `<url><loc>${opts.origin()}/corpus/${d.slug}.html</loc></url>`)
          .join("");
        return {
          type: "application/xml",
          body: `<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">${urls}</urlset>`,
        };
      }
      const body = bodies.get(path);
      return body === undefined ? undefined : { type: "text/html; charset=utf-8", body };
    },
  };
  return self;
}
