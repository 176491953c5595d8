// A sitemap source's `include` is user input: it runs on a linear-time engine, so a pattern that makes
// a backtracking engine take exponential time cannot stall the worker; syntax that engine lacks is
// refused with a message. A sitemap index is refused by name.
import { describe, expect, it } from "vitest";
import { compileUrlPattern, MAX_PATTERN_LENGTH } from "../../../../functions/ingest/sources/pattern.ts";
import { parseSitemap, sitemap } from "../../../../functions/ingest/sources/sitemap.ts";

describe("sitemap include patterns", () => {
  it("match (a+)+$ against a long path in linear time", () => {
    // With RegExp, 24 characters took 1.7 s and every further one doubled it.
    const re = compileUrlPattern("include", "(a+)+$");
    const url = `https://example.com/${"a".repeat(10_000)}!`;
    const t = performance.now();
    expect(re.test(url)).toBe(false);
    expect(performance.now() - t).toBeLessThan(500);
    expect(re.test("https://example.com/aaa")).toBe(true);
  });

  it("filter the listing as regular expressions did", () => {
    const re = compileUrlPattern("include", "/pages/(alpha|beta)$");
    expect(
      ["https://x/pages/alpha", "https://x/pages/gamma", "https://x/pages/beta"].filter((u) => re.test(u)),
    ).toEqual(["https://x/pages/alpha", "https://x/pages/beta"]);
  });

  it("refuse lookaround, backreferences, broken syntax and overlong patterns with a message", () => {
    const config = (include: string) =>
      sitemap.parseConfig({ url: "https://example.com/sitemap.xml", include });
    expect(config("/docs/(?!draft)")).toEqual({
      ok: false,
      error:
        'config.include must be a regular expression in RE2 syntax (no backreferences or lookaround), got "/docs/(?!draft)": error parsing regexp: invalid or unsupported Perl syntax: `(?!`',
    });
    expect(config("(a)\\1")).toMatchObject({
      ok: false,
      error: expect.stringContaining("invalid escape sequence"),
    });
    expect(config("[")).toMatchObject({ ok: false, error: expect.stringContaining("missing closing ]") });
    expect(config("a".repeat(MAX_PATTERN_LENGTH + 1))).toEqual({
      ok: false,
      error: `config.include is ${MAX_PATTERN_LENGTH + 1} characters long; at most ${MAX_PATTERN_LENGTH} are allowed`,
    });
  });

  it("a sitemap index is refused by name", () => {
    const xml =
      '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>https://x/s1.xml</loc></sitemap></sitemapindex>';
    expect(() => parseSitemap(xml, "https://x/sitemap.xml")).toThrow(
      "this is a sitemap index (<sitemapindex>), which is not followed; add one sitemap source for each <sitemap><loc> it lists",
    );
  });
});
