import { describe, expect, it, vi } from "vitest";
import { markdownDir } from "../../../../functions/ingest/sources/markdown-dir.ts";
import { sitemap } from "../../../../functions/ingest/sources/sitemap.ts";

describe("source configs", () => {
  it("name a misspelled key instead of ignoring it, and refuse a config that is not an object", () => {
    expect(sitemap.parseConfig({ url: "https://example.com/sitemap.xml", max_item_per_run: 1 })).toEqual({
      ok: false,
      error: expect.stringMatching(
        /^config has unknown key max_item_per_run; known keys: .*max_items_per_run.*url/,
      ),
    });
    expect(sitemap.parseConfig(["https://example.com/sitemap.xml"])).toEqual({
      ok: false,
      error: "config must be a JSON object",
    });
    expect(
      sitemap.parseConfig({ url: "https://example.com/sitemap.xml", max_items_per_run: 1 }),
    ).toMatchObject({
      ok: true,
      value: { maxItemsPerRun: 1 },
    });
  });

  it("read markdown_dir folders only below INGEST_FILE_ROOT", () => {
    const root = process.cwd();
    for (const path of ["/etc", "../", `${root}/../elsewhere`]) {
      const r = markdownDir.parseConfig({ path });
      expect(r.ok, path).toBe(false);
      if (!r.ok)
        expect(r.error).toMatch(
          /^config\.path .* is outside INGEST_FILE_ROOT \(.*\); markdown_dir sources read only below it$/,
        );
    }
    expect(markdownDir.parseConfig({ path: "docs" })).toMatchObject({
      ok: true,
      value: { path: `${root}/docs` },
    });
    vi.stubEnv("INGEST_FILE_ROOT", "/etc");
    expect(markdownDir.parseConfig({ path: "/etc/ssl" })).toMatchObject({ ok: true });
  });
});
