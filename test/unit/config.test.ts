import { afterEach, describe, expect, it } from "vitest";
import { loadImagesConfig } from "../../functions/images/config.ts";
import { buildStorage } from "../../functions/images/workload.ts";
import { ConfigError, loadConfig } from "../../functions/shared/config.ts";
import { secretsEqual } from "../../functions/shared/secrets.ts";

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe("loadConfig", () => {
  it("has working defaults for the local stack", () => {
    delete process.env.RESONATE_URL;
    delete process.env.RESONATE_TTL_MS;
    const c = loadConfig();
    expect(c.resonate.group).toBe("workers");
    expect(c.resonate.ttlMs).toBe(60_000);
    expect(c.resonate.serverUrl).toBeUndefined();
  });

  it("names the variable that is malformed", () => {
    process.env.RESONATE_TTL_MS = "soon";
    expect(() => loadConfig()).toThrow(ConfigError);
    expect(() => loadConfig()).toThrow(/RESONATE_TTL_MS must be an integer from 1000 to 3600000, got "soon"/);
    process.env.RESONATE_TTL_MS = "60000";
    process.env.RESONATE_URL = "not a url";
    expect(() => loadConfig()).toThrow(/RESONATE_URL must be a URL/);
    delete process.env.RESONATE_URL;
    process.env.LOCAL_MODE = "maybe";
    expect(() => loadConfig()).toThrow(/LOCAL_MODE must be true or false/);
  });

  it("switches to a Resonate Server when RESONATE_URL is set", () => {
    process.env.RESONATE_URL = "http://127.0.0.1:8001";
    expect(loadConfig().resonate.serverUrl).toBe("http://127.0.0.1:8001");
  });
});

describe("image storage", () => {
  it("is Supabase Storage through supabase-js in every mode, so the local stack needs the key too", () => {
    process.env.LOCAL_MODE = "true";
    delete process.env.IMAGES_BUCKET;
    delete process.env.SUPABASE_SERVICE_ROLE_KEY;
    expect(() => buildStorage(loadConfig(), loadImagesConfig())).toThrow(
      /storing images needs SUPABASE_SERVICE_ROLE_KEY/,
    );
    process.env.SUPABASE_SERVICE_ROLE_KEY = "service-role-key";
    expect(buildStorage(loadConfig(), loadImagesConfig()).bucket).toBe("images");
  });
});

describe("secretsEqual", () => {
  it("compares exactly and never accepts an empty expected secret", async () => {
    expect(await secretsEqual("abc", "abc")).toBe(true);
    expect(await secretsEqual("abd", "abc")).toBe(false);
    expect(await secretsEqual("ab", "abc")).toBe(false);
    expect(await secretsEqual("", "")).toBe(false);
  });
});
