// The gallery function as a hosted project without a custom domain runs it (GALLERY_HTML unset), on a
// second functions server over a database of its own: plain text by default, JSON of the same rows, and
// no page that shows its markup as text, even when the platform turns the HTML page into text/plain.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/stack/layout.ts";
import { launchChromium } from "../support/chromium.ts";
import { dropDatabase, freshDatabase, pool as makePool } from "../support/db.ts";
import { type FunctionsServer, startFunctionsServer } from "../support/functions-server.ts";

const DB = "gallery_hosted";
const PROMPT = "a <b>lighthouse</b> at dusk";

let server: FunctionsServer;
let requestId: string;

beforeAll(async () => {
  const url = await freshDatabase(DB);
  const db = makePool(url, 1);
  try {
    const { rows } = await db.query<{ id: string }>(
      "insert into image_requests (prompt, styles) values ($1, '{cartoon}') returning id",
      [PROMPT],
    );
    requestId = rows[0]!.id;
  } finally {
    await db.end();
  }
  server = await startFunctionsServer(`${ROOT}/supabase/functions`, {
    GALLERY_HTML: "",
    DATABASE_URL: url,
    SUPABASE_DB_URL: url,
    DB_POOLER_URL: "",
  });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await dropDatabase(DB);
});

async function withBrowser<T>(run: (page: Page) => Promise<T>): Promise<T> {
  const browser = await launchChromium();
  try {
    return await run(await browser.newPage());
  } finally {
    await browser.close();
  }
}

/** What the platform does to a text/html answer without a custom domain: the same bytes as text/plain. */
async function startRewritingProxy(target: string): Promise<{ url: string; server: Server }> {
  const proxy = createServer(async (_req, res) => {
    const body = await (await fetch(target)).text();
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(body);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`, server: proxy };
}

describe("gallery on a hosted project without a custom domain", () => {
  it("answers plain text by default, which a browser shows as a readable list", async () => {
    const res = await fetch(`${server.functionsUrl}/gallery`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    const text = await res.text();
    expect(text).toContain(`${PROMPT} [queued]`);
    expect(text).toContain(`images/${requestId}`);
    expect(text).toContain("hosted Edge Functions serve text/html only through a custom domain");

    const shown = await withBrowser(async (page) => {
      await page.goto(`${server.functionsUrl}/gallery`);
      return (await page.locator("body").textContent()) ?? "";
    });
    expect(shown.split("\n")[0]).toMatch(/^Image requests, most recent first/);
    expect(shown).not.toMatch(/<(html|section|div|img|style)\b/);
  });

  it("answers the same rows as JSON with ?format=json, and refuses an unknown format", async () => {
    const res = await fetch(`${server.functionsUrl}/gallery?format=json&limit=5`);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const body = (await res.json()) as { requests: { id: string; prompt: string; status: string }[] };
    expect(body.requests).toEqual([
      expect.objectContaining({ id: requestId, prompt: PROMPT, status: "queued" }),
    ]);
    const bad = await fetch(`${server.functionsUrl}/gallery?format=xml`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'format must be one of html, text, json, got "xml"' });
  });

  it("says what happened on the first line when the platform serves the HTML page as text/plain", async () => {
    const proxy = await startRewritingProxy(`${server.functionsUrl}/gallery?format=html`);
    try {
      const shown = await withBrowser(async (page) => {
        await page.goto(proxy.url);
        return (await page.locator("body").textContent()) ?? "";
      });
      const [doctype, note] = shown.split("\n");
      expect(doctype).toBe("<!doctype html>");
      expect(note).toContain("If you can read this line, this page reached you as text/plain");
      expect(note).toContain("?format=text or ?format=json");
    } finally {
      proxy.server.close();
    }
  });
});
