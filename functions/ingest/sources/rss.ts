// `rss`: list-then-process over an RSS 2.0 or Atom feed. The listing is the feed's items; each item's
// page is fetched in its own sub-run; items without a link are not indexed.
import { fetchText } from "../fetch.ts";
import { pageText } from "../page-text.ts";
import { child, childrenNamed, childText, parseXml, type XmlElement, XmlError } from "../xml.ts";
import { httpUrl, type NetworkConfig, networkConfig, urlKey, validated } from "./config.ts";
import type { ListedItem, ListedKind } from "./types.ts";

export interface RssConfig extends NetworkConfig {
  url: string;
}

export interface FeedItem extends ListedItem {
  title: string;
}

function atomLink(entry: XmlElement): string {
  const links = childrenNamed(entry, "link");
  const alt = links.find((l) => (l.attrs.rel ?? "alternate") === "alternate") ?? links[0];
  return alt?.attrs.href ?? "";
}

export function parseFeed(xml: string, base: string): FeedItem[] {
  const root = parseXml(xml);
  let entries: { link: string; guid: string; title: string }[];
  if (root.name === "rss") {
    const channel = child(root, "channel");
    if (!channel) throw new XmlError("RSS feed has no <channel>");
    entries = childrenNamed(channel, "item").map((i) => ({
      link: childText(i, "link"),
      guid: childText(i, "guid"),
      title: childText(i, "title"),
    }));
  } else if (root.name === "feed") {
    entries = childrenNamed(root, "entry").map((e) => ({
      link: atomLink(e),
      guid: childText(e, "id"),
      title: childText(e, "title"),
    }));
  } else {
    throw new XmlError(`expected an <rss> or Atom <feed> root, found <${root.name}>`);
  }
  const items: FeedItem[] = [];
  const seen = new Set<string>();
  for (const e of entries) {
    if (!e.link) continue;
    const url = new URL(e.link, base).toString();
    const key = urlKey(url, base);
    if (seen.has(key)) continue;
    seen.add(key);
    items.push({ key, url, title: e.title });
  }
  return items;
}

export const rss: ListedKind<RssConfig> = {
  kind: "rss",
  network: true,
  parseConfig: validated((o) => ({ url: httpUrl(o, "url"), ...networkConfig(o) })),
  limits: (c) => ({ maxItemsPerRun: c.maxItemsPerRun, concurrency: c.concurrency }),
  async list(config) {
    const res = await fetchText(config.url, config.fetch);
    return parseFeed(res.body, config.url).map(({ key, url }) => ({ key, url }));
  },
  async fetchItem(config, item) {
    const res = await fetchText(item.url, config.fetch);
    const page = await pageText(res.body);
    if (!page.text) throw new Error(`GET ${item.url}: page has no text`);
    return { path: item.key, url: item.url, title: page.title || item.key, content: page.text, metadata: {} };
  },
};
