// Postgres text and jsonb cannot hold U+0000: a message quoting what someone else sent (a server's error
// page, a parser's message quoting a line) would fail the very row meant to record it.

/** `text` with each U+0000 written out as `\u0000`, so Postgres can store it. */
export function storableText(text: string): string {
  return text.replaceAll("\u0000", "\\u0000");
}
