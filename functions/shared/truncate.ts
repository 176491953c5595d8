// Shortening text by UTF-16 units, as `slice` counts, can cut a surrogate pair (an emoji, a rarer CJK
// character) in two. The half left behind is no character: node-postgres stores it as U+FFFD, strict JSON
// parsers refuse it, and a page shows a replacement box. These cut only between code points.

const isHigh = (unit: number) => unit >= 0xd800 && unit <= 0xdbff;
const isLow = (unit: number) => unit >= 0xdc00 && unit <= 0xdfff;

/** At most `max` UTF-16 units from the start of `text`, never half a pair; `mark` (say "…") is added
 *  where something was cut off. */
export function truncate(text: string, max: number, mark = ""): string {
  if (text.length <= max) return text;
  const end = max > 0 && isHigh(text.charCodeAt(max - 1)) && isLow(text.charCodeAt(max)) ? max - 1 : max;
  return `${text.slice(0, end)}${mark}`;
}

/** At most `max` UTF-16 units from the end of `text`, never half a pair. */
export function tail(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return "";
  const start = text.length - max;
  return text.slice(isLow(text.charCodeAt(start)) && isHigh(text.charCodeAt(start - 1)) ? start + 1 : start);
}
