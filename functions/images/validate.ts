// Validation of an inserted image_requests row, as the webhook receives it. Pure: the Edge Function
// answers 400 with the message and the row is marked failed with it, so every message says what to fix.

import { listNames } from "../shared/name-list.ts";
import type { Validation } from "../shared/webhook.ts";
import { BIDI_CONTROL } from "./bidi.ts";
import { isKnownStyle, KNOWN_STYLES, MAX_PROMPT_CHARS, MAX_STYLES } from "./styles.ts";

/** Failure injection for the simulated provider, per style. Ignored by real providers. */
export interface SimulationOptions {
  /** Provider latency per style, ms. */
  latencyMs: Record<string, number>;
  /** A style fails its first N attempts (transient, retried), always fails transiently ("always",
   *  which exhausts the retries), or is refused outright like a content-policy error ("reject"). */
  fail: Record<string, number | "always" | "reject">;
}

export interface ImageRequestInput {
  id: string;
  prompt: string;
  styles: string[];
  options: SimulationOptions;
}

export const MAX_LATENCY_MS = 120_000;
export const MAX_FAIL_FIRST = 100;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isRequestId(v: unknown): v is string {
  return typeof v === "string" && UUID.test(v);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function emptySimulation(): SimulationOptions {
  return { latencyMs: {}, fail: {} };
}

/** Parses the `options` column: `{"latency_ms": {"<style>": ms}, "fail": {"<style>": N | "always" | "reject"}}`. */
export function parseSimulationOptions(raw: unknown): Validation<SimulationOptions> {
  if (raw === null || raw === undefined) return { ok: true, value: emptySimulation() };
  if (!isObject(raw))
    return { ok: false, error: 'options must be a JSON object like {"latency_ms": {...}, "fail": {...}}' };
  const unknownKeys = Object.keys(raw).filter((k) => k !== "latency_ms" && k !== "fail");
  if (unknownKeys.length) {
    return {
      ok: false,
      error: `options has unknown key(s) ${listNames(unknownKeys)}; allowed are latency_ms and fail`,
    };
  }
  const out = emptySimulation();
  if (raw.latency_ms !== undefined) {
    if (!isObject(raw.latency_ms))
      return { ok: false, error: "options.latency_ms must be an object of style -> milliseconds" };
    for (const [style, ms] of Object.entries(raw.latency_ms)) {
      if (typeof ms !== "number" || !Number.isInteger(ms) || ms < 0 || ms > MAX_LATENCY_MS) {
        return {
          ok: false,
          error: `options.latency_ms.${style} must be an integer from 0 to ${MAX_LATENCY_MS}`,
        };
      }
      out.latencyMs[style] = ms;
    }
  }
  if (raw.fail !== undefined) {
    if (!isObject(raw.fail))
      return { ok: false, error: 'options.fail must be an object of style -> N | "always" | "reject"' };
    for (const [style, how] of Object.entries(raw.fail)) {
      const okCount = typeof how === "number" && Number.isInteger(how) && how >= 0 && how <= MAX_FAIL_FIRST;
      if (!okCount && how !== "always" && how !== "reject") {
        return {
          ok: false,
          error: `options.fail.${style} must be an integer from 0 to ${MAX_FAIL_FIRST}, "always" or "reject"`,
        };
      }
      out.fail[style] = how as number | "always" | "reject";
    }
  }
  return { ok: true, value: out };
}

export function validateImageRequest(record: Record<string, unknown>): Validation<ImageRequestInput> {
  const { id, prompt, styles } = record;
  if (!isRequestId(id)) return { ok: false, error: "record.id must be a UUID" };
  if (typeof prompt !== "string") return { ok: false, error: "prompt must be text" };
  if (prompt.trim() === "") return { ok: false, error: "prompt is empty; describe the image to generate" };
  const control = BIDI_CONTROL.exec(prompt)?.[0];
  if (control) {
    const code = `U+${control.codePointAt(0)!.toString(16).toUpperCase()}`;
    return {
      ok: false,
      error: `prompt contains the invisible direction control ${code}, which reverses how the text around it is shown (in the gallery too); remove it`,
    };
  }
  // Characters as people count them (code points), not UTF-16 units.
  const length = [...prompt].length;
  if (length > MAX_PROMPT_CHARS) {
    return { ok: false, error: `prompt is ${length} characters; the limit is ${MAX_PROMPT_CHARS}` };
  }
  if (!Array.isArray(styles) || styles.some((s) => typeof s !== "string")) {
    return { ok: false, error: "styles must be an array of style names" };
  }
  if (styles.length === 0) {
    return { ok: false, error: `styles is empty; choose at least one of ${KNOWN_STYLES.join(", ")}` };
  }
  const unknown = styles.filter((s) => !isKnownStyle(s));
  if (unknown.length) {
    return {
      ok: false,
      error: `unknown style(s) ${listNames(unknown)}; choose from ${KNOWN_STYLES.join(", ")}`,
    };
  }
  const seen = new Set<string>();
  for (const s of styles as string[]) {
    if (seen.has(s)) return { ok: false, error: `style ${s} is listed twice; list each style once` };
    seen.add(s);
  }
  if (styles.length > MAX_STYLES) {
    return { ok: false, error: `too many styles (${styles.length}); at most ${MAX_STYLES} per request` };
  }
  const options = parseSimulationOptions(record.options);
  if (!options.ok) return options;
  return { ok: true, value: { id, prompt, styles: styles as string[], options: options.value } };
}
