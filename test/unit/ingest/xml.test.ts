import { describe, expect, it } from "vitest";
import { parseFeed } from "../../../functions/ingest/sources/rss.ts";
import { parseSitemap } from "../../../functions/ingest/sources/sitemap.ts";
import { parseXml } from "../../../functions/ingest/xml.ts";

describe("xml", () => {
  it("parses sitemaps and feeds, and names what is wrong with malformed XML", () => {
    expect(
      parseSitemap(
        '<?xml version="1.0"?><urlset><url><loc>http://h/a?x=1&amp;y=2</loc></url><url><loc>http://h/a?x=1&amp;y=2</loc></url></urlset>',
        "http://h/sitemap.xml",
      ),
    ).toEqual([{ key: "/a?x=1&y=2", url: "http://h/a?x=1&y=2" }]);
    expect(
      parseFeed(
        '<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>T</title><link href="/p/1"/><id>1</id></entry></feed>',
        "http://h/feed",
      ),
    ).toEqual([{ key: "/p/1", url: "http://h/p/1", title: "T" }]);
    expect(parseXml("<a><![CDATA[<b>]]></a>").text).toBe("<b>");
    expect(() => parseXml("<rss><channel><item></channel></rss>")).toThrow(
      /closing tag <\/channel> at line 1 does not match <item>/,
    );
    expect(() => parseXml("<rss><channel>")).toThrow(/ends inside <channel>/);
    // The bad tag is quoted in part, cut between characters: half an emoji would reach the run's error.
    expect(() => parseXml(`<a><b ${"x".repeat(36)}😀="1"></b></a>`)).toThrow(
      new RegExp(`^malformed tag at line 1: <b ${"x".repeat(36)}$`),
    );
    expect(() => parseSitemap("<html></html>", "http://h/")).toThrow(/expected <urlset>/);
  });
});
