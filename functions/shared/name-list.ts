// Names quoted in an error message (unknown fields, styles): enough to recognise the mistake, never the
// whole of a hostile list. Each is JSON-quoted, so a control character or a NUL shows as its escape.
import { truncate } from "./truncate.ts";

const LISTED_NAMES = 5;
const NAME_UNITS = 40;

/** `"a", "b" and 3 more`. */
export function listNames(names: string[]): string {
  const shown = names.slice(0, LISTED_NAMES).map((n) => JSON.stringify(truncate(n, NAME_UNITS, "…")));
  const more = names.length - shown.length;
  return more > 0 ? `${shown.join(", ")} and ${more} more` : shown.join(", ");
}
