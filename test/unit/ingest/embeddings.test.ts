// The OpenAI embedder's client code, against a loopback server.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { embeddingsConfigFromEnv, openaiEmbedder } from "../../../functions/ingest/embeddings.ts";

describe("openai embedder", () => {
  it("posts batches with 512 dimensions, reorders by index, and reports HTTP errors", async () => {
    const seen: { auth: string | undefined; body: { input: string[]; dimensions: number; model: string } }[] =
      [];
    const server = createServer((req, res) => {
      let raw = "";
      req.on("data", (d) => {
        raw += d;
      });
      req.on("end", () => {
        const body = JSON.parse(raw);
        seen.push({ auth: req.headers.authorization, body });
        if (body.input.includes("emoji")) {
          res.writeHead(500).end(`${"e".repeat(299)}${"😀".repeat(20)}`);
          return;
        }
        if (body.input.includes("fail")) {
          res.writeHead(429, { "content-type": "application/json" }).end('{"error":"slow down"}');
          return;
        }
        const data = body.input
          .map((t: string, index: number) => ({ index, embedding: new Array(512).fill(t.length) }))
          .reverse();
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    try {
      const cfg = embeddingsConfigFromEnv(
        (n) =>
          ({
            INGEST_EMBEDDINGS: "openai",
            OPENAI_API_KEY: "k",
            OPENAI_BASE_URL: baseUrl,
            INGEST_EMBED_BATCH: "2",
          })[n],
      );
      if (cfg.provider !== "openai") throw new Error("expected openai config");
      const e = openaiEmbedder(cfg);
      const vectors = await e.embed(["a", "bb", "ccc"]);
      expect(vectors.map((v) => v[0])).toEqual([1, 2, 3]);
      expect(seen.map((s) => s.body.input)).toEqual([["a", "bb"], ["ccc"]]);
      expect(seen[0]).toMatchObject({
        auth: "Bearer k",
        body: { dimensions: 512, model: "text-embedding-3-small" },
      });
      expect(e.model).toBe("openai:text-embedding-3-small@512");
      await expect(e.embed(["fail"])).rejects.toThrow(/HTTP 429/);
      // The answer is quoted in part, cut between characters, never inside an emoji.
      await expect(e.embed(["emoji"])).rejects.toThrow(new RegExp(`HTTP 500 ${"e".repeat(299)}$`));
      expect(() => embeddingsConfigFromEnv((n) => ({ INGEST_EMBEDDINGS: "openai" })[n])).toThrow(
        /needs OPENAI_API_KEY/,
      );
    } finally {
      server.close();
    }
  });
});
