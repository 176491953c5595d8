// The providers on their own. The OpenAI client runs for real against a loopback server that speaks
// the Images API's HTTP shape, errors included.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPrompt, openAiProvider, parseRetryAfter } from "../../../functions/images/openai.ts";
import { encodePng } from "../../../functions/images/png.ts";
import { PermanentProviderError, TransientProviderError } from "../../../functions/images/provider.ts";
import { simulatedProvider } from "../../../functions/images/simulated.ts";
import { decodePng } from "../../support/images/png-decode.ts";

const sim = { latencyMs: {}, fail: {} };

describe("simulated provider", () => {
  const provider = simulatedProvider({ size: 32, defaultLatencyMs: 0 });

  it("returns a real PNG of the configured size", async () => {
    const img = await provider.generate({ prompt: "p", style: "neon", attempt: 1, simulation: sim });
    expect(decodePng(img.png)).toMatchObject({ width: 32, height: 32 });
    expect([img.width, img.height]).toEqual([32, 32]);
  });

  it("takes the per-style latency for the whole call", async () => {
    const t = performance.now();
    await provider.generate({
      prompt: "p",
      style: "neon",
      attempt: 1,
      simulation: { latencyMs: { neon: 120 }, fail: {} },
    });
    const ms = performance.now() - t;
    expect(ms).toBeGreaterThanOrEqual(115);
    expect(ms).toBeLessThan(400);
  });

  it("fails the first N attempts transiently, then succeeds", async () => {
    const simulation = { latencyMs: {}, fail: { neon: 2 } };
    for (const attempt of [1, 2]) {
      await expect(
        provider.generate({ prompt: "p", style: "neon", attempt, simulation }),
      ).rejects.toBeInstanceOf(TransientProviderError);
    }
    await expect(
      provider.generate({ prompt: "p", style: "neon", attempt: 3, simulation }),
    ).resolves.toHaveProperty("width", 32);
    await expect(
      provider.generate({ prompt: "p", style: "cartoon", attempt: 1, simulation }),
    ).resolves.toHaveProperty("width", 32);
  });

  it("fails always (transient) or rejects (permanent) when told to", async () => {
    const simulation = { latencyMs: {}, fail: { neon: "always" as const, sepia: "reject" as const } };
    await expect(
      provider.generate({ prompt: "p", style: "neon", attempt: 50, simulation }),
    ).rejects.toBeInstanceOf(TransientProviderError);
    const err = await provider
      .generate({ prompt: "p", style: "sepia", attempt: 1, simulation })
      .catch((e) => e);
    expect(err).toBeInstanceOf(PermanentProviderError);
    expect(err.message).toBe("simulated provider refused style sepia: rejected by content policy");
  });
});

describe("parseRetryAfter", () => {
  it("reads retry-after-ms, seconds and HTTP dates", () => {
    expect(parseRetryAfter(new Headers({ "retry-after-ms": "350", "retry-after": "9" }))).toBe(350);
    expect(parseRetryAfter(new Headers({ "retry-after": "2" }))).toBe(2000);
    expect(parseRetryAfter(new Headers({ "retry-after": new Date(10_000).toUTCString() }), 4_000)).toBe(6000);
    expect(parseRetryAfter(new Headers({ "retry-after": "soon" }))).toBeUndefined();
    expect(parseRetryAfter(new Headers())).toBeUndefined();
  });
});

interface Call {
  path: string;
  auth: string | undefined;
  body: Record<string, unknown>;
}

describe("openai provider against a loopback Images API", () => {
  let server: Server;
  let baseUrl: string;
  const calls: Call[] = [];
  const png = encodePng(4, 3, new Uint8Array(4 * 3 * 3).fill(200));
  // What the next requests get, in order; an empty queue answers success.
  const script: ((res: ServerResponse) => void)[] = [];

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let raw = "";
      req.on("data", (d) => {
        raw += d;
      });
      req.on("end", () => {
        calls.push({ path: req.url ?? "", auth: req.headers.authorization, body: JSON.parse(raw) });
        const next = script.shift();
        if (next) return next(res);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ created: 1, data: [{ b64_json: Buffer.from(png).toString("base64") }] }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const provider = () =>
    openAiProvider({ apiKey: "sk-test", baseUrl, model: "gpt-image-1", size: "1024x1024", timeoutMs: 5_000 });
  const job = { prompt: "a lighthouse", style: "pixel-art", attempt: 1, simulation: sim };

  it("posts the Images API request and decodes b64_json", async () => {
    calls.length = 0;
    const img = await provider().generate(job);
    expect(calls).toEqual([
      {
        path: "/v1/images/generations",
        auth: "Bearer sk-test",
        body: {
          model: "gpt-image-1",
          prompt: buildPrompt("a lighthouse", "pixel-art"),
          n: 1,
          size: "1024x1024",
        },
      },
    ]);
    expect(buildPrompt("a lighthouse", "pixel-art")).toBe("a lighthouse\n\nStyle: pixel art.");
    expect([img.width, img.height]).toEqual([4, 3]);
    expect(Buffer.from(img.png).equals(Buffer.from(png))).toBe(true);
  });

  it("asks dall-e models for b64_json explicitly", async () => {
    calls.length = 0;
    await openAiProvider({
      apiKey: "k",
      baseUrl,
      model: "dall-e-3",
      size: "1024x1024",
      timeoutMs: 5_000,
    }).generate(job);
    expect(calls[0]?.body.response_format).toBe("b64_json");
  });

  it("turns 429 into a transient error carrying retry-after", async () => {
    script.push((res) => {
      res.writeHead(429, { "content-type": "application/json", "retry-after": "1" });
      res.end(
        JSON.stringify({
          error: { message: "Rate limit reached for images", type: "requests", code: "rate_limit_exceeded" },
        }),
      );
    });
    const err = await provider()
      .generate(job)
      .catch((e) => e);
    expect(err).toBeInstanceOf(TransientProviderError);
    expect(err.retryAfterMs).toBe(1000);
    expect(err.message).toBe("openai 429 rate_limit_exceeded: Rate limit reached for images");
  });

  it("turns a 400 content-policy refusal into a permanent error", async () => {
    script.push((res) => {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          error: {
            message: "Your request was rejected by our safety system.",
            type: "invalid_request_error",
            code: "content_policy_violation",
          },
        }),
      );
    });
    const err = await provider()
      .generate(job)
      .catch((e) => e);
    expect(err).toBeInstanceOf(PermanentProviderError);
    expect(err.message).toBe(
      "openai 400 content_policy_violation: Your request was rejected by our safety system.",
    );
  });

  it("treats 5xx, non-PNG data and unreachable servers as transient", async () => {
    script.push((res) => {
      res.writeHead(503);
      res.end("upstream unavailable");
    });
    await expect(provider().generate(job)).rejects.toThrow(
      new TransientProviderError("openai 503: HTTP 503"),
    );
    script.push((res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ data: [{ b64_json: Buffer.from("hello").toString("base64") }] }));
    });
    await expect(provider().generate(job)).rejects.toThrow("openai answered with data that is not a PNG");
    const dead = openAiProvider({
      apiKey: "k",
      baseUrl: "http://127.0.0.1:9/v1",
      model: "m",
      size: "1x1",
      timeoutMs: 2_000,
    });
    await expect(dead.generate(job)).rejects.toBeInstanceOf(TransientProviderError);
  });
});
