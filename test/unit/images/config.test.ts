import { describe, expect, it, vi } from "vitest";
import { loadImagesConfig } from "../../../functions/images/config.ts";
import { buildProvider } from "../../../functions/images/workload.ts";

const KEYS = [
  "IMAGES_PROVIDER",
  "OPENAI_API_KEY",
  "IMAGES_MAX_RETRIES",
  "IMAGES_BUCKET",
  "OPENAI_IMAGE_SIZE",
  "OPENAI_BASE_URL",
];
function withEnv(env: Record<string, string>) {
  for (const k of KEYS) vi.stubEnv(k, env[k]);
  return loadImagesConfig;
}

describe("loadImagesConfig", () => {
  it("defaults to the simulated provider with bounded retries", () => {
    const cfg = withEnv({})();
    expect(cfg).toMatchObject({
      provider: "simulated",
      bucket: "images",
      retry: { delayMs: 250, maxRetries: 3 },
    });
    expect(buildProvider(cfg).name).toBe("simulated");
  });

  it("builds the openai provider when asked and keyed", () => {
    const cfg = withEnv({
      IMAGES_PROVIDER: "openai",
      OPENAI_API_KEY: "sk-x",
      OPENAI_BASE_URL: "http://127.0.0.1:9/v1/",
    })();
    expect(cfg.openai).toMatchObject({
      apiKey: "sk-x",
      baseUrl: "http://127.0.0.1:9/v1",
      model: "gpt-image-1",
    });
    expect(buildProvider(cfg).name).toBe("openai");
  });

  it("names the variable to fix", () => {
    expect(withEnv({ IMAGES_PROVIDER: "midjourney" })).toThrow(
      'IMAGES_PROVIDER must be simulated or openai, got "midjourney"',
    );
    expect(withEnv({ IMAGES_PROVIDER: "openai" })).toThrow("IMAGES_PROVIDER=openai needs OPENAI_API_KEY");
    expect(withEnv({ IMAGES_MAX_RETRIES: "lots" })).toThrow(
      'IMAGES_MAX_RETRIES must be an integer from 0 to 100, got "lots"',
    );
    expect(withEnv({ IMAGES_BUCKET: "../up" })).toThrow("IMAGES_BUCKET must be a bucket name");
    expect(withEnv({ OPENAI_IMAGE_SIZE: "big" })).toThrow(
      'OPENAI_IMAGE_SIZE must look like 1024x1024, got "big"',
    );
  });
});
