// Markdown-aware chunking: split on headings (outside fenced code), keep the heading path, pack
// paragraphs into chunks of bounded size, and carry a word-aligned overlap from one chunk into the next so
// a sentence cut at a boundary is still found whole in one of them.
import { tail, truncate } from "../shared/truncate.ts";

export interface ChunkOptions {
  /** Upper bound on a chunk's length in characters. */
  maxChars: number;
  /** Characters of the previous chunk repeated at the start of the next one within a section. */
  overlapChars: number;
}

export interface Chunk {
  index: number;
  headingPath: string[];
  content: string;
}

export const DEFAULT_CHUNK_OPTIONS: ChunkOptions = { maxChars: 1000, overlapChars: 150 };

interface Section {
  headingPath: string[];
  body: string;
}

export function splitSections(markdown: string): Section[] {
  const sections: Section[] = [];
  const path: { level: number; text: string }[] = [];
  let lines: string[] = [];
  let fence: string | null = null;
  const flush = () => {
    const body = lines.join("\n").trim();
    if (body) sections.push({ headingPath: path.map((p) => p.text), body });
    lines = [];
  };
  for (const line of markdown.replace(/\r\n?/g, "\n").split("\n")) {
    const f = /^\s*(```|~~~)/.exec(line);
    if (f) fence = fence === null ? f[1]! : fence === f[1] ? null : fence;
    const h = fence === null && !f ? /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line) : null;
    if (h) {
      flush();
      const level = h[1]!.length;
      while (path.length && path[path.length - 1]!.level >= level) path.pop();
      path.push({ level, text: h[2]! });
    } else {
      lines.push(line);
    }
  }
  flush();
  return sections;
}

/** Splits text that is longer than `max` at sentence ends, then at spaces, then hard. */
function splitLong(text: string, max: number): string[] {
  if (text.length <= max) return [text];
  const out: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const window = rest.slice(0, max + 1);
    let cut = Math.max(window.lastIndexOf(". "), window.lastIndexOf("! "), window.lastIndexOf("? ")) + 1;
    if (cut < max / 2) cut = window.lastIndexOf(" ");
    const head = cut < max / 2 ? truncate(rest, max) : rest.slice(0, cut);
    out.push(head.trim());
    rest = rest.slice(head.length).trim();
  }
  if (rest) out.push(rest);
  return out;
}

function tailWords(text: string, n: number): string {
  if (n <= 0 || text.length <= n) return n <= 0 ? "" : text;
  const end = tail(text, n);
  const space = end.indexOf(" ");
  return space < 0 ? end : end.slice(space + 1);
}

export function chunkMarkdown(markdown: string, opts: ChunkOptions = DEFAULT_CHUNK_OPTIONS): Chunk[] {
  if (opts.maxChars < 50) throw new Error("maxChars must be at least 50");
  if (opts.overlapChars < 0 || opts.overlapChars >= opts.maxChars / 2) {
    throw new Error("overlapChars must be between 0 and maxChars / 2");
  }
  const chunks: Chunk[] = [];
  // Room for the overlap prefix, so overlap never pushes a chunk over the bound.
  const room = opts.maxChars - opts.overlapChars - 1;
  for (const section of splitSections(markdown)) {
    const pieces = section.body
      .split(/\n\s*\n/)
      .map((p) => p.trim())
      .filter(Boolean)
      .flatMap((p) => splitLong(p, room));
    let current = "";
    let prefix = "";
    const emit = () => {
      if (!current) return;
      const content = prefix ? `${prefix} ${current}` : current;
      chunks.push({ index: chunks.length, headingPath: section.headingPath, content });
      prefix = tailWords(current, opts.overlapChars);
      current = "";
    };
    for (const piece of pieces) {
      if (current && current.length + 2 + piece.length > room) emit();
      current = current ? `${current}\n\n${piece}` : piece;
    }
    emit();
  }
  return chunks;
}

/** Characters of a page's opening paragraph that go into each of its chunks' embedded text. */
export const LEAD_CHARS = 240;

/**
 * The page's opening paragraph: the first paragraph with some prose in it (a line of badges or a bare
 * link is skipped), cut at a word boundary after at most `max` characters. It tells the embedding what
 * the page is about when a chunk deep inside it does not say.
 */
export function leadParagraph(markdown: string, max = LEAD_CHARS): string {
  for (const section of splitSections(markdown)) {
    for (const raw of section.body.split(/\n\s*\n/)) {
      const text = raw
        .replace(/!\[[^\]]*\]\([^)]*\)/g, " ")
        .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
        .replace(/\s+/g, " ")
        .trim();
      if ((text.match(/[A-Za-z]{2,}/g) ?? []).length < 6 || text.startsWith("```")) continue;
      if (text.length <= max) return text;
      const cut = text.lastIndexOf(" ", max);
      return cut > max / 2 ? text.slice(0, cut) : truncate(text, max);
    }
  }
  return "";
}

/**
 * The text that is embedded: the title and heading path give a short chunk the context it needs, and the
 * page's lead says what the page is about (left out where the chunk starts with it).
 */
export function embeddingText(title: string, chunk: Chunk, lead = ""): string {
  const context = [title, ...chunk.headingPath].filter(Boolean).join(" > ");
  const about = lead && !chunk.content.includes(lead.slice(0, 60)) ? lead : "";
  return [context, about, chunk.content].filter(Boolean).join("\n");
}
