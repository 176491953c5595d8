// HTML page → clean text with its title. Headings become markdown headings so the chunker keeps a
// heading path for web pages exactly as for markdown; navigation, scripts and styles are dropped.
import { decodeEntities } from "./xml.ts";

export interface PageText {
  title: string;
  text: string;
}

const DROP = /<(script|style|noscript|nav|header|footer|aside|template|svg|form)\b[\s\S]*?<\/\1\s*>/gi;
const BLOCK =
  /<\/?(p|div|section|article|main|br|li|ul|ol|tr|table|pre|blockquote|dd|dt|figure|hr)\b[^>]*>/gi;

function stripTags(s: string): string {
  return decodeEntities(s.replace(/<[^>]*>/g, ""))
    .replace(/\s+/g, " ")
    .trim();
}

export function htmlToText(html: string): PageText {
  const titleTag = /<title\b[^>]*>([\s\S]*?)<\/title>/i.exec(html);
  const h1 = /<h1\b[^>]*>([\s\S]*?)<\/h1>/i.exec(html);
  const title = stripTags(titleTag?.[1] ?? h1?.[1] ?? "");
  const bodyMatch = /<body\b[^>]*>([\s\S]*)<\/body>/i.exec(html);
  let body = (bodyMatch?.[1] ?? html).replace(/<!--[\s\S]*?-->/g, "").replace(DROP, " ");
  body = body.replace(/<h([1-6])\b[^>]*>([\s\S]*?)<\/h\1\s*>/gi, (_m, level: string, inner: string) => {
    return `\n\n${"#".repeat(Number(level))} ${stripTags(inner)}\n\n`;
  });
  body = body.replace(BLOCK, "\n");
  const text = decodeEntities(body.replace(/<[^>]*>/g, " "))
    .split("\n")
    .map((l) => l.replace(/[ \t\f\v\u00a0]+/g, " ").trim())
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
  return { title, text };
}
