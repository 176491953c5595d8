// Reading a source's `config` jsonb: each getter names the field and what is wrong with it, so an
// operator fixes the row from the error recorded on the run.
import type { FetchOptions } from "../fetch.ts";

export class SourceConfigError extends Error {
  override name = "SourceConfigError";
}

export type Raw = Record<string, unknown>;

export function object(raw: unknown): Raw {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new SourceConfigError("config must be a JSON object");
  }
  return raw as Raw;
}

export function str(o: Raw, key: string, fallback?: string): string {
  const v = o[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== "string" || v.trim() === "")
    throw new SourceConfigError(`config.${key} must be a non-empty string`);
  return v;
}

export function optStr(o: Raw, key: string): string | undefined {
  return o[key] === undefined ? undefined : str(o, key);
}

export function bool(o: Raw, key: string, fallback: boolean): boolean {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== "boolean") throw new SourceConfigError(`config.${key} must be true or false`);
  return v;
}

export function int(o: Raw, key: string, fallback: number, min: number, max: number): number {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new SourceConfigError(
      `config.${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

export function httpUrl(o: Raw, key: string, fallback?: string): string {
  const v = str(o, key, fallback);
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new SourceConfigError(`config.${key} must be an absolute URL, got ${JSON.stringify(v)}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new SourceConfigError(`config.${key} must be an http(s) URL, got ${JSON.stringify(v)}`);
  }
  return v;
}

export interface NetworkConfig {
  fetch: FetchOptions;
  maxItemsPerRun: number;
  concurrency: number;
}

export function networkConfig(o: Raw, headers: Record<string, string> = {}): NetworkConfig {
  return {
    fetch: {
      timeoutMs: int(o, "timeout_ms", 15_000, 100, 120_000),
      maxRateLimitWaitMs: int(o, "max_rate_limit_wait_ms", 60_000, 0, 600_000),
      headers: { "user-agent": "durable-pipelines-ingest/0.1", ...headers },
    },
    maxItemsPerRun: int(o, "max_items_per_run", 200, 1, 100_000),
    concurrency: int(o, "concurrency", 8, 1, 64),
  };
}

/**
 * Wraps a throwing parser into the Validation shape the kinds expose. A key the parser never reads is
 * a typo (`max_item_per_run`) that would otherwise be ignored in silence, so it is an error too.
 */
export function validated<C>(parse: (o: Raw) => C) {
  return (raw: unknown): { ok: true; value: C } | { ok: false; error: string } => {
    try {
      const o = object(raw);
      const read = new Set<string>();
      const value = parse(
        new Proxy(o, {
          get: (target, key) => {
            if (typeof key === "string") read.add(key);
            return target[key as string];
          },
        }),
      );
      const unknown = Object.keys(o).filter((k) => !read.has(k));
      if (unknown.length > 0) {
        throw new SourceConfigError(
          `config has unknown key${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")}; known keys: ${[...read].sort().join(", ")}`,
        );
      }
      return { ok: true, value };
    } catch (err) {
      if (err instanceof SourceConfigError) return { ok: false, error: err.message };
      throw err;
    }
  };
}

/** A URL's key within its source: path and query when on the source's own host, else the whole URL. */
export function urlKey(url: string, base: string): string {
  const u = new URL(url);
  const b = new URL(base);
  return u.host === b.host ? `${u.pathname}${u.search}` : url;
}
