import { describe, expect, it } from "vitest";
import { chunkMarkdown, embeddingText, leadParagraph } from "../../../functions/ingest/chunk.ts";

/** A lone surrogate: with the u flag, a whole pair is one code point outside this range. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

describe("chunkMarkdown", () => {
  it("splits on headings outside code fences and keeps the heading path", () => {
    const chunks = chunkMarkdown("# A\nintro\n## B\nbody b\n```\n# not a heading\n```\n# C\nbody c");
    expect(chunks.map((c) => c.headingPath)).toEqual([["A"], ["A", "B"], ["C"]]);
    expect(chunks[1]!.content).toContain("# not a heading");
    expect(embeddingText("Doc", chunks[1]!)).toMatch(/^Doc > A > B\n/);
  });

  it("puts the page's opening paragraph into every chunk's embedded text, skipping badges", () => {
    const md =
      "# Lib\n[![npm](https://img/x.svg)](https://npm/x)\n\nA tiny library that parses cron expressions into schedules for Node.\n\n## API\nCall parse(expr).";
    const lead = leadParagraph(md);
    expect(lead).toBe("A tiny library that parses cron expressions into schedules for Node.");
    const chunks = chunkMarkdown(md);
    expect(embeddingText("Lib", chunks.at(-1)!, lead)).toBe(`Lib > Lib > API\n${lead}\nCall parse(expr).`);
    // The chunk that holds the lead does not get it twice.
    expect(embeddingText("Lib", chunks[0]!, lead).split(lead).length).toBe(2);
    expect(leadParagraph(`# T\n${"word ".repeat(100)}`).length).toBeLessThanOrEqual(240);
  });

  it("bounds chunk size and overlaps consecutive chunks of a section", () => {
    const para = (n: number) => `Paragraph ${n} ${"word ".repeat(40)}end${n}.`;
    const text = `# Long\n${Array.from({ length: 12 }, (_, i) => para(i)).join("\n\n")}`;
    const chunks = chunkMarkdown(text, { maxChars: 500, overlapChars: 80 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) expect(c.content.length).toBeLessThanOrEqual(500);
    for (let i = 1; i < chunks.length; i++) {
      const tail = chunks[i - 1]!.content.slice(-30);
      expect(chunks[i]!.content.slice(0, 120)).toContain(tail.slice(tail.indexOf(" ") + 1));
    }
    const long = chunkMarkdown(`x ${"a".repeat(3000)}`, { maxChars: 400, overlapChars: 50 });
    for (const c of long) expect(c.content.length).toBeLessThanOrEqual(400);
  });

  it("cuts text without spaces between characters, never inside an emoji's surrogate pair", () => {
    const emoji = "😀".repeat(2000);
    const chunks = chunkMarkdown(`x${emoji}`, { maxChars: 400, overlapChars: 51 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) {
      expect(c.content.length).toBeLessThanOrEqual(400);
      expect(c.content).not.toMatch(LONE_SURROGATE);
    }
    const lead = leadParagraph(`${"word ".repeat(6)}a${emoji}`);
    expect(lead.length).toBeLessThanOrEqual(240);
    expect(lead).not.toMatch(LONE_SURROGATE);
  });
});
