import { describe, expect, it } from "vitest";
import { imagesRoute } from "../../../functions/images/route.ts";
import {
  DEFAULT_STYLES,
  KNOWN_STYLES,
  MAX_PROMPT_CHARS,
  MAX_STYLES,
} from "../../../functions/images/styles.ts";
import { parseSimulationOptions, validateImageRequest } from "../../../functions/images/validate.ts";

const id = "8c9e2f0a-1b2c-4d3e-8f40-5a6b7c8d9e0f";
const row = (over: Record<string, unknown> = {}) => ({
  id,
  prompt: "a lighthouse at dusk",
  styles: [...DEFAULT_STYLES],
  options: {},
  ...over,
});

function error(over: Record<string, unknown>): string {
  const v = validateImageRequest(row(over));
  if (v.ok) throw new Error("expected a validation error");
  return v.error;
}

describe("validateImageRequest", () => {
  it("accepts a default request and passes only the id to the workflow", () => {
    const v = validateImageRequest(row());
    expect(v).toEqual({
      ok: true,
      value: {
        id,
        prompt: "a lighthouse at dusk",
        styles: ["photorealistic", "cartoon", "abstract"],
        options: { latencyMs: {}, fail: {} },
      },
    });
    if (v.ok) expect(imagesRoute.args(v.value)).toEqual([id]);
  });

  it("refuses an empty or blank prompt", () => {
    expect(error({ prompt: "" })).toBe("prompt is empty; describe the image to generate");
    expect(error({ prompt: "  \n" })).toBe("prompt is empty; describe the image to generate");
  });

  it("counts the prompt limit in characters, not UTF-16 units", () => {
    expect(validateImageRequest(row({ prompt: "é".repeat(MAX_PROMPT_CHARS) })).ok).toBe(true);
    expect(validateImageRequest(row({ prompt: "🌊".repeat(MAX_PROMPT_CHARS) })).ok).toBe(true);
    expect(error({ prompt: "x".repeat(MAX_PROMPT_CHARS + 1) })).toBe(
      `prompt is 4001 characters; the limit is ${MAX_PROMPT_CHARS}`,
    );
  });

  it("names unknown styles and lists the known ones", () => {
    const msg = error({ styles: ["cartoon", "oil-paint", "vaporwave"] });
    expect(msg).toContain('unknown style(s) "oil-paint", "vaporwave"');
    for (const s of KNOWN_STYLES) expect(msg).toContain(s);
  });

  it("names at most five unknown styles, each cut to 40 characters, however many were sent", () => {
    const styles = Array.from({ length: 1000 }, (_, i) => `bogus-${i}-${"x".repeat(i === 0 ? 100 : 0)}`);
    const msg = error({ styles });
    expect(msg).toBe(
      `unknown style(s) "bogus-0-${"x".repeat(32)}…", "bogus-1-", "bogus-2-", "bogus-3-", "bogus-4-" and 995 more; choose from ${KNOWN_STYLES.join(", ")}`,
    );
    expect(msg.length).toBeLessThan(250);
  });

  it("cuts a long unknown style between characters, never inside an emoji's surrogate pair", () => {
    const msg = error({ styles: [`${"x".repeat(39)}😀 cat`] });
    expect(msg).toMatch(new RegExp(`^unknown style\\(s\\) "${"x".repeat(39)}…";`));
    expect(msg).not.toMatch(/\\ud[89ab]/i);
  });

  it("refuses a prompt with a direction override or isolate, which would flip the gallery's text", () => {
    expect(error({ prompt: "a cat \u202Etac a" })).toBe(
      "prompt contains the invisible direction control U+202E, which reverses how the text around it is shown (in the gallery too); remove it",
    );
    expect(error({ prompt: "x \u2067y" })).toMatch(
      /^prompt contains the invisible direction control U\+2067,/,
    );
    // Right-to-left text itself, and the plain direction marks, are fine.
    expect(validateImageRequest(row({ prompt: "שלום עולם \u200F" })).ok).toBe(true);
  });

  it("refuses too many, duplicate or no styles", () => {
    expect(error({ styles: KNOWN_STYLES.slice(0, MAX_STYLES + 1) })).toBe(
      `too many styles (${MAX_STYLES + 1}); at most ${MAX_STYLES} per request`,
    );
    expect(error({ styles: ["cartoon", "cartoon"] })).toBe(
      "style cartoon is listed twice; list each style once",
    );
    expect(error({ styles: [] })).toMatch(/^styles is empty; choose at least one of photorealistic/);
    expect(error({ styles: "cartoon" })).toBe("styles must be an array of style names");
    expect(validateImageRequest(row({ styles: KNOWN_STYLES.slice(0, MAX_STYLES) })).ok).toBe(true);
  });

  it("refuses a record without a UUID id", () => {
    expect(error({ id: "42" })).toBe("record.id must be a UUID");
  });
});

describe("parseSimulationOptions", () => {
  it("reads per-style latency and failure injection", () => {
    expect(
      parseSimulationOptions({
        latency_ms: { cartoon: 600 },
        fail: { abstract: 2, neon: "always", sepia: "reject" },
      }),
    ).toEqual({
      ok: true,
      value: { latencyMs: { cartoon: 600 }, fail: { abstract: 2, neon: "always", sepia: "reject" } },
    });
    expect(parseSimulationOptions(null)).toEqual({ ok: true, value: { latencyMs: {}, fail: {} } });
  });

  it("says which option is wrong", () => {
    expect(parseSimulationOptions({ latency: {} })).toEqual({
      ok: false,
      error: 'options has unknown key(s) "latency"; allowed are latency_ms and fail',
    });
    expect(parseSimulationOptions({ latency_ms: { cartoon: -1 } })).toEqual({
      ok: false,
      error: "options.latency_ms.cartoon must be an integer from 0 to 120000",
    });
    expect(parseSimulationOptions({ fail: { cartoon: "sometimes" } })).toEqual({
      ok: false,
      error: 'options.fail.cartoon must be an integer from 0 to 100, "always" or "reject"',
    });
    expect(error({ options: [] })).toMatch(/^options must be a JSON object/);
  });
});
