// HTML pages → text for the crawl without blocking the worker's event loop: converting a 2.8 MB page took
// ~300 ms of regular expressions, so a page over INLINE_CHARS is converted in a thread of its own (started
// on the first big page, stopped after 10 s without one); small pages, nearly all of them, stay inline,
// where they take a few milliseconds and no message passing.
import { htmlToText, type PageText } from "./html.ts";
import { type IndexThreads, startIndexThreads } from "./index-threads.ts";

const INLINE_CHARS = 256 * 1024;

let thread: IndexThreads | undefined;

export function pageText(html: string): Promise<PageText> {
  if (html.length <= INLINE_CHARS) return Promise.resolve(htmlToText(html));
  thread ??= startIndexThreads(1, 10_000);
  return thread.pageText(html);
}
