// Postgres text and jsonb cannot hold U+0000: a message quoting what someone else sent (a server's error
// page, a parser's message quoting a line) would fail the very row meant to record it.
import { truncate } from "./truncate.ts";

/** `text` with each U+0000 written out as `\u0000`, so Postgres can store it. */
export function storableText(text: string): string {
  return text.replaceAll("\u0000", "\\u0000");
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
/** Keys are quoted in a path at most this long: enough to recognise, never all of a hostile one. */
const SHOWN_KEY_UNITS = 80;

const quoted = (key: string) => JSON.stringify(truncate(key, SHOWN_KEY_UNITS, "…"));
const member = (path: string, key: string) =>
  IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${quoted(key)}]`;

/**
 * Where the first U+0000 in a parsed JSON value is, said for a person: `record.prompt contains a NUL
 * (\u0000) character` or `record.options has a key with a NUL (\u0000) character: "a\u0000"`. Undefined
 * when there is none. Walked with a stack of its own: a hostile body may nest deeper than the call stack.
 */
export function nulPlace(value: unknown, name: string): string | undefined {
  const pending: [path: string, value: unknown][] = [[name, value]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [path, v] = next;
    if (typeof v === "string") {
      if (v.includes("\u0000")) return `${path} contains a NUL (\\u0000) character`;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) pending.push([`${path}[${i}]`, v[i]]);
    } else if (typeof v === "object" && v !== null) {
      const keys = Object.keys(v);
      const bad = keys.find((k) => k.includes("\u0000"));
      if (bad !== undefined) return `${path} has a key with a NUL (\\u0000) character: ${quoted(bad)}`;
      for (let i = keys.length - 1; i >= 0; i--) {
        pending.push([member(path, keys[i]!), (v as Record<string, unknown>)[keys[i]!]]);
      }
    }
  }
  return undefined;
}
