// The contract every source kind implements. A new kind is one file in this folder plus one entry in
// `index.ts`: flat kinds crawl everything in one plain async call; listed kinds list their items first
// (one durable step) and fetch each item in its own durable sub-run.
import type { Validation } from "../../shared/webhook.ts";

export interface CrawledDoc {
  /** Unique within the source; part of the staging id and the document's natural key. */
  path: string;
  url: string | null;
  title: string;
  content: string;
  metadata: Record<string, unknown>;
}

export interface ListedItem {
  key: string;
  url: string;
}

export interface ListLimits {
  /** Items fetched per run; the rest (least recently fetched first) roll over to the next run. */
  maxItemsPerRun: number;
  /** Item sub-runs in flight at once. */
  concurrency: number;
}

export interface FlatKind<C> {
  kind: string;
  network: false;
  parseConfig(raw: unknown): Validation<C>;
  crawl(config: C): Promise<CrawledDoc[]>;
}

export interface ListedKind<C> {
  kind: string;
  network: true;
  parseConfig(raw: unknown): Validation<C>;
  limits(config: C): ListLimits;
  list(config: C): Promise<ListedItem[]>;
  fetchItem(config: C, item: ListedItem): Promise<CrawledDoc>;
}

export type SourceKind<C = unknown> = FlatKind<C> | ListedKind<C>;
