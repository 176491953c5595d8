// The gallery's three answers (functions/images/gallery-answer.ts): the HTML page only where it renders,
// plain text by default elsewhere, JSON of the same rows for any page or the CLI. No database.
import { describe, expect, it, vi } from "vitest";
import { galleryServesHtml } from "../../../functions/images/config.ts";
import { type GalleryImage, type GalleryRequest, renderGallery } from "../../../functions/images/gallery.ts";
import { galleryFormat, galleryResponse } from "../../../functions/images/gallery-answer.ts";
import { PLAIN_TEXT_NOTE, renderGalleryText } from "../../../functions/images/gallery-text.ts";

const image = (style: string, status: string, facts: Partial<GalleryImage>): GalleryImage => ({
  style,
  status,
  url: null,
  width: null,
  height: null,
  attempts: 1,
  duration_ms: null,
  error: null,
  ...facts,
});

const rows: GalleryRequest[] = [
  {
    id: "8c9e2f0a-1b2c-4d3e-8f40-5a6b7c8d9e0f",
    prompt: "a <b>lighthouse</b>\nat dusk",
    status: "partially_succeeded",
    error: "1 of 2 styles failed: neon: boom",
    created_at: "2026-11-21 10:00:00 UTC",
    duration_ms: 912,
    images: [
      image("cartoon", "succeeded", { url: "http://x/c.png", width: 256, height: 256, duration_ms: 300 }),
      image("neon", "failed", { attempts: 4, error: "boom" }),
    ],
  },
];

describe("gallery answers", () => {
  it("defaults to the HTML page only where GALLERY_HTML=true says it renders, to plain text elsewhere", () => {
    expect(galleryFormat(null, true)).toEqual({ ok: true, format: "html" });
    expect(galleryFormat(null, false)).toEqual({ ok: true, format: "text" });
    expect(galleryFormat("json", false)).toEqual({ ok: true, format: "json" });
    expect(galleryFormat("html", false)).toEqual({ ok: true, format: "html" });
    expect(galleryFormat("xml", true)).toEqual({
      ok: false,
      error: 'format must be one of html, text, json, got "xml"',
    });
    vi.stubEnv("GALLERY_HTML", undefined);
    expect(galleryServesHtml()).toBe(false);
    vi.stubEnv("GALLERY_HTML", "true");
    expect(galleryServesHtml()).toBe(true);
    vi.stubEnv("GALLERY_HTML", "yes");
    expect(() => galleryServesHtml()).toThrow(/GALLERY_HTML must be true or false, got "yes"/);
  });

  it("lists the same requests as plain text, one line per image, saying why it is not a page", () => {
    const text = renderGalleryText(rows);
    expect(text).toContain(PLAIN_TEXT_NOTE);
    expect(text).toContain("a <b>lighthouse</b> at dusk [partially succeeded]");
    expect(text).toContain("2026-11-21 10:00:00 UTC · 912 ms · images/8c9e2f0a-1b2c-4d3e-8f40-5a6b7c8d9e0f");
    expect(text).toContain("  - cartoon [succeeded] 1 call · 300 ms · 256x256 · http://x/c.png");
    expect(text).toContain("  - neon [failed] 4 calls · error: boom");
    expect(text).not.toMatch(/<(html|section|div|img|style)/);
    expect(renderGalleryText([])).toContain("insert into image_requests (prompt)");
    const reversed = renderGalleryText([{ ...rows[0]!, prompt: "abc\u202Edef" }]);
    expect(reversed).toContain("abc<U+202E>def [partially succeeded]");
  });

  it("writes out terminal control characters in plain text, where `curl` would let them clear the screen or retitle it", () => {
    const text = renderGalleryText([
      {
        ...rows[0]!,
        prompt: "red\u001b[2J\u001b]0;pwned\u0007 sky",
        images: [image("neon", "failed", { error: "provider said \u001b[32mok\u009b" })],
      },
    ]);
    expect(text).toContain("red<U+001B>[2J<U+001B>]0;pwned<U+0007> sky [partially succeeded]");
    expect(text).toContain("error: provider said <U+001B>[32mok<U+009B>");
    expect(text.replaceAll("\n", "")).not.toMatch(/\p{Cc}/u);
  });

  it("answers each format with its content type; JSON carries the rows", async () => {
    const html = galleryResponse(rows, "html");
    expect(html.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await html.text()).toBe(renderGallery(rows));
    const text = galleryResponse(rows, "text");
    expect(text.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    const json = galleryResponse(rows, "json");
    expect(json.headers.get("content-type")).toBe("application/json");
    expect(await json.json()).toEqual({ requests: rows });
  });

  it("cuts a long prompt to 200 units between characters, in the page and in the text, never inside an emoji", () => {
    const prompt = `${"a".repeat(199)}😀${"b".repeat(50)}`;
    const long = [{ ...rows[0]!, prompt }];
    const cut = `${"a".repeat(199)}…`;
    for (const shown of [renderGallery(long), renderGalleryText(long)]) {
      expect(shown).toContain(cut);
      expect(shown).not.toMatch(/[\uD800-\uDFFF]/u);
    }
  });

  it("puts a line that says what happened at the top of the page, for where it is shown as text", () => {
    const [doctype, note] = renderGallery(rows).split("\n");
    expect(doctype).toBe("<!doctype html>");
    expect(note).toMatch(
      /^<!-- If you can read this line, this page reached you as text\/plain: .*custom domain/,
    );
    expect(note).toContain("?format=text or ?format=json");
  });
});
