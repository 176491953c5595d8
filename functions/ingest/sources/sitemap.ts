// `sitemap`: list-then-process. The listing is sitemap.xml's <loc> entries; each page is fetched in its
// own sub-run and turned into clean text with its title.
import { fetchText } from "../fetch.ts";
import { pageText } from "../page-text.ts";
import { childrenNamed, childText, parseXml, XmlError } from "../xml.ts";
import { httpUrl, type NetworkConfig, networkConfig, optStr, urlKey, validated } from "./config.ts";
import { compileUrlPattern, type UrlPattern } from "./pattern.ts";
import type { ListedItem, ListedKind } from "./types.ts";

export interface SitemapConfig extends NetworkConfig {
  url: string;
  /** Only URLs matching this regular expression are indexed. */
  include: UrlPattern | undefined;
}

export function parseSitemap(xml: string, base: string): ListedItem[] {
  const root = parseXml(xml);
  if (root.name === "sitemapindex") {
    throw new XmlError(
      "this is a sitemap index (<sitemapindex>), which is not followed; add one sitemap source for each <sitemap><loc> it lists",
    );
  }
  if (root.name !== "urlset")
    throw new XmlError(`expected <urlset> as the sitemap root, found <${root.name}>`);
  const items: ListedItem[] = [];
  const seen = new Set<string>();
  for (const u of childrenNamed(root, "url")) {
    const loc = childText(u, "loc");
    if (!loc) continue;
    const url = new URL(loc, base).toString();
    const key = urlKey(url, base);
    if (!seen.has(key)) {
      seen.add(key);
      items.push({ key, url });
    }
  }
  return items;
}

export const sitemap: ListedKind<SitemapConfig> = {
  kind: "sitemap",
  network: true,
  parseConfig: validated((o) => {
    const include = optStr(o, "include");
    const re = include === undefined ? undefined : compileUrlPattern("include", include);
    return { url: httpUrl(o, "url"), include: re, ...networkConfig(o) };
  }),
  limits: (c) => ({ maxItemsPerRun: c.maxItemsPerRun, concurrency: c.concurrency }),
  async list(config) {
    const res = await fetchText(config.url, config.fetch);
    const items = parseSitemap(res.body, config.url);
    return config.include ? items.filter((i) => config.include!.test(i.url)) : items;
  },
  async fetchItem(config, item) {
    const res = await fetchText(item.url, config.fetch);
    const page = await pageText(res.body);
    if (!page.text) throw new Error(`GET ${item.url}: page has no text`);
    return { path: item.key, url: item.url, title: page.title || item.key, content: page.text, metadata: {} };
  },
};
