// Outbound HTTP for crawlers: one timeout per request, a body size cap, and rate limits honoured — a
// 403/429 that says when the limit resets is waited out (if the reset is near enough) and retried once.
// Source configs name arbitrary URLs, and crawled pages become searchable, so every hop (redirects
// included) may only reach public addresses, checked at connect time; LOCAL_MODE allows private ones.
import type http from "node:http";
import { localAccessFromEnv } from "../shared/local-mode.ts";
import { BlockedRequest, guardedGet } from "../shared/net-guard.ts";
import { truncate } from "../shared/truncate.ts";

const MAX_REDIRECTS = 5;
export class FetchError extends Error {
  override name = "FetchError";
  readonly status: number | null;
  constructor(message: string, status: number | null) {
    super(message);
    this.status = status;
  }
}

export interface FetchOptions {
  timeoutMs: number;
  headers?: Record<string, string>;
  /** The only origin the `authorization` header is sent to; other hosts (a redirect, a next-page link)
   *  get the request without it. */
  authOrigin?: string;
  /** Longest wait for a rate-limit reset before giving up on this request. */
  maxRateLimitWaitMs: number;
  maxBytes?: number;
}

export interface FetchedText {
  status: number;
  headers: Headers;
  body: string;
}

/**
 * How long to wait before retrying a rate-limited response, or null when it is not a rate limit.
 * Understands GitHub's `x-ratelimit-remaining: 0` + `x-ratelimit-reset` (epoch seconds) and the
 * standard `retry-after` (seconds or an HTTP date).
 */
export function rateLimitWaitMs(status: number, headers: Headers, nowMs: number): number | null {
  if (status !== 403 && status !== 429) return null;
  const retryAfter = headers.get("retry-after");
  if (retryAfter) {
    const secs = Number(retryAfter);
    if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
    const at = Date.parse(retryAfter);
    if (Number.isFinite(at)) return Math.max(0, at - nowMs);
  }
  const reset = Number(headers.get("x-ratelimit-reset"));
  if (headers.get("x-ratelimit-remaining") === "0" && Number.isFinite(reset) && reset > 0) {
    return Math.max(0, reset * 1000 - nowMs);
  }
  return status === 429 ? 1000 : null;
}

async function once(url: string, opts: FetchOptions): Promise<FetchedText> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs);
  try {
    const { response, url: answered } = await guardedGet(new URL(url), {
      local: localAccessFromEnv(),
      maxRedirects: MAX_REDIRECTS,
      headers: (hop) => headersFor(hop, opts),
      signal: controller.signal,
    });
    return await readBody(response, answered, opts.maxBytes ?? 10 * 1024 * 1024);
  } catch (err) {
    if (err instanceof FetchError) throw err;
    if (err instanceof BlockedRequest) throw fetchErrorOf(err);
    if (controller.signal.aborted)
      throw new FetchError(`GET ${url}: timed out after ${opts.timeoutMs} ms`, null);
    throw new FetchError(`GET ${url}: ${(err as Error).message}`, null);
  } finally {
    clearTimeout(timer);
  }
}

function readBody(res: http.IncomingMessage, url: URL, max: number): Promise<FetchedText> {
  const status = res.statusCode ?? 0;
  const declared = Number(res.headers["content-length"] ?? "0");
  if (declared > max) {
    res.destroy();
    return Promise.reject(
      new FetchError(`GET ${url}: body is ${declared} bytes, over the ${max} limit`, status),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) {
        res.destroy();
        reject(new FetchError(`GET ${url}: body is over the ${max} byte limit`, status));
        return;
      }
      chunks.push(c);
    });
    res.on("error", reject);
    res.on("end", () => {
      const headers = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
      }
      resolve({ status, headers, body: Buffer.concat(chunks).toString("utf8") });
    });
  });
}

function fetchErrorOf(err: BlockedRequest): FetchError {
  switch (err.reason) {
    case "protocol":
      return new FetchError(`GET ${err.url}: only http(s) URLs are fetched`, null);
    case "private":
      return new FetchError(
        `GET ${err.url}: refused: ${err.detail}; sources may only be fetched from public addresses (LOCAL_MODE allows loopback, except the local stack's own services)`,
        null,
      );
    case "too-many-redirects":
      return new FetchError(`GET ${err.url}: redirects more than ${err.detail} times`, err.status ?? null);
    case "bad-redirect":
      return new FetchError(`GET ${err.url}: redirects to an invalid URL ${err.detail}`, err.status ?? null);
  }
}

function headersFor(u: URL, opts: FetchOptions): Record<string, string> | undefined {
  if (!opts.headers?.authorization || opts.authOrigin === u.origin) return opts.headers;
  const { authorization: _, ...rest } = opts.headers;
  return rest;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** GET returning the body of a 2xx answer; anything else is a FetchError naming the URL and status. */
export async function fetchText(url: string, opts: FetchOptions): Promise<FetchedText> {
  let res = await once(url, opts);
  const wait = rateLimitWaitMs(res.status, res.headers, Date.now());
  if (wait !== null) {
    if (wait > opts.maxRateLimitWaitMs) {
      throw new FetchError(
        `GET ${url}: rate limited for another ${Math.ceil(wait / 1000)} s (over the ${opts.maxRateLimitWaitMs} ms wait limit); retried next run`,
        res.status,
      );
    }
    await sleep(wait + 50);
    res = await once(url, opts);
  }
  if (res.status < 200 || res.status > 299) {
    throw new FetchError(
      `GET ${url}: HTTP ${res.status} ${truncate(res.body, 200).replace(/\s+/g, " ")}`,
      res.status,
    );
  }
  return res;
}
