import { describe, expect, it, vi } from "vitest";
import { ConfigError, loadConfig } from "../../../functions/shared/config.ts";

describe("loadConfig", () => {
  it("has working defaults for the local stack", () => {
    vi.stubEnv("RESONATE_URL", undefined);
    vi.stubEnv("RESONATE_TTL_MS", undefined);
    const c = loadConfig();
    expect(c.resonate.group).toBe("workers");
    expect(c.resonate.ttlMs).toBe(60_000);
    expect(c.resonate.serverUrl).toBeUndefined();
    expect(c.resonate.stepStartedAfterMs).toBe(100);
  });

  it("names the variable that is malformed", () => {
    vi.stubEnv("RESONATE_TTL_MS", "soon");
    expect(() => loadConfig()).toThrow(ConfigError);
    expect(() => loadConfig()).toThrow(/RESONATE_TTL_MS must be an integer from 1000 to 3600000, got "soon"/);
    vi.stubEnv("RESONATE_TTL_MS", "60000");
    vi.stubEnv("RESONATE_URL", "not a url");
    expect(() => loadConfig()).toThrow(/RESONATE_URL must be a URL/);
    vi.stubEnv("RESONATE_URL", undefined);
    vi.stubEnv("LOCAL_MODE", "maybe");
    expect(() => loadConfig()).toThrow(/LOCAL_MODE must be true or false/);
  });

  it("never repeats a malformed URL's text, which may hold the database password", () => {
    vi.stubEnv("DB_POOLER_URL", "postgresql://postgres.ref:hunter2-secret@db.example.com:65536/postgres");
    expect(() => loadConfig()).toThrow(/DB_POOLER_URL must be a URL/);
    expect(() => loadConfig()).not.toThrow(/hunter2/);
  });

  it("switches to a Resonate Server when RESONATE_URL is set", () => {
    vi.stubEnv("RESONATE_URL", "http://127.0.0.1:8001");
    expect(loadConfig().resonate.serverUrl).toBe("http://127.0.0.1:8001");
  });
});
