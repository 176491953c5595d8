// Outbound HTTP for crawlers: one timeout per request, a body size cap, and rate limits honoured — a
// 403/429 that says when the limit resets is waited out (if the reset is near enough) and retried once.
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
    const res = await fetch(url, { headers: opts.headers, signal: controller.signal, redirect: "follow" });
    const max = opts.maxBytes ?? 10 * 1024 * 1024;
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > max)
      throw new FetchError(`GET ${url}: body is ${declared} bytes, over the ${max} limit`, res.status);
    const body = await res.text();
    if (body.length > max) throw new FetchError(`GET ${url}: body is over the ${max} byte limit`, res.status);
    return { status: res.status, headers: res.headers, body };
  } catch (err) {
    if (err instanceof FetchError) throw err;
    if (controller.signal.aborted)
      throw new FetchError(`GET ${url}: timed out after ${opts.timeoutMs} ms`, null);
    throw new FetchError(`GET ${url}: ${(err as Error).message}`, null);
  } finally {
    clearTimeout(timer);
  }
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
      `GET ${url}: HTTP ${res.status} ${res.body.slice(0, 200).replace(/\s+/g, " ")}`,
      res.status,
    );
  }
  return res;
}
