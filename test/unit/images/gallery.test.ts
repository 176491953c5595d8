import { describe, expect, it } from "vitest";
import { escapeHtml, renderGallery } from "../../../functions/images/gallery.ts";

const base = {
  id: "8c9e2f0a-1b2c-4d3e-8f40-5a6b7c8d9e0f",
  created_at: "2026-11-21 10:00:00 UTC",
  duration_ms: 912,
};

describe("renderGallery", () => {
  it("shows each request's images, styles, statuses and errors", () => {
    const html = renderGallery([
      {
        ...base,
        prompt: "a lighthouse",
        status: "partially_succeeded",
        error: "1 of 2 styles failed: neon: boom",
        images: [
          {
            style: "cartoon",
            status: "succeeded",
            url: "http://x/c.png",
            width: 256,
            height: 256,
            attempts: 1,
            duration_ms: 300,
            error: null,
          },
          {
            style: "neon",
            status: "failed",
            url: null,
            width: null,
            height: null,
            attempts: 4,
            duration_ms: null,
            error: "boom",
          },
        ],
      },
    ]);
    expect(html).toContain('<img src="http://x/c.png" alt="cartoon"');
    expect(html).toContain("<b>neon</b>");
    expect(html).toContain("partially succeeded");
    expect(html).toContain("1 of 2 styles failed: neon: boom");
    expect(html).toContain("4 calls");
    expect(html).not.toContain("http-equiv");
  });

  it("escapes what people typed and refreshes while work is running", () => {
    const html = renderGallery([
      { ...base, prompt: '<script>alert("x")</script>', status: "running", error: null, images: [] },
    ]);
    expect(html).not.toContain("<script>");
    expect(html).toContain(escapeHtml('<script>alert("x")</script>'));
    expect(html).toContain('<meta http-equiv="refresh" content="2">');
  });

  it("writes out direction controls in a prompt instead of letting them reverse its text", () => {
    const html = renderGallery([
      { ...base, prompt: "a cat \u202Etac a", status: "failed", error: "refused", images: [] },
    ]);
    expect(html).not.toContain("\u202E");
    expect(html).toContain(`<h2>${escapeHtml("a cat <U+202E>tac a")}</h2>`);
  });

  it("says how to start when there is nothing yet", () => {
    expect(renderGallery([])).toContain("insert into image_requests (prompt)");
  });
});
