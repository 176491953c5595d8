// Which addresses the workloads may fetch from (import sources, crawled pages). The address test is
// pure; the resolver hook applies it to every address a host name resolves to, at connect time, so DNS
// cannot swap in a private address after a check. LOCAL_MODE (the local stack) allows loopback, except
// the ports the stack's own services listen on; never private networks, link-local or metadata.
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";

function ipv4Private(ip: string): boolean {
  const [a, b] = ip.split(".").map(Number) as [number, number, number, number];
  return (
    a === 0 || // "this" network
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link-local, cloud metadata
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    a >= 224 // multicast, reserved, broadcast
  );
}

/** The eight 16-bit groups of an IPv6 address in any spelling (with `::`, or a dotted IPv4 tail). */
function ipv6Groups(ip: string): number[] | undefined {
  let s = ip.toLowerCase();
  const dotted = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(2).map(Number) as [number, number, number, number];
    s = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<string>(Math.max(fill, 0)).fill("0"), ...tail].map((h) =>
    Number.parseInt(h, 16),
  );
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

/** True for loopback, private, link-local, unique-local, unspecified, multicast and reserved addresses. */
export function isPrivateAddress(ip: string): boolean {
  const v = isIP(ip);
  if (v === 4) return ipv4Private(ip);
  if (v !== 6) return true;
  const g = ipv6Groups(ip);
  if (!g) return true;
  // ::/96 (IPv4-compatible, with :: and ::1) and ::ffff:0:0/96 (IPv4-mapped) carry an IPv4 address,
  // whichever way they are written: `::ffff:127.0.0.1` and `::ffff:7f00:1` are the same host.
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0 || g[5] === 0xffff)) {
    return ipv4Private(`${g[6]! >> 8}.${g[6]! & 0xff}.${g[7]! >> 8}.${g[7]! & 0xff}`);
  }
  const first = g[0]!;
  return (
    (first & 0xfe00) === 0xfc00 || // unique local fc00::/7
    (first & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (first & 0xff00) === 0xff00 || // multicast
    (first === 0x64 && g[1] === 0xff9b) || // NAT64 can reach IPv4 private space
    (first === 0x2001 && g[1] === 0xdb8) // documentation
  );
}

/** 127.0.0.0/8 and ::1, in any IPv6 spelling of them. */
export function isLoopbackAddress(ip: string): boolean {
  const v = isIP(ip);
  if (v === 4) return ip.startsWith("127.");
  const g = v === 6 ? ipv6Groups(ip) : undefined;
  if (!g) return false;
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return true;
  return g.slice(0, 5).every((x) => x === 0) && (g[5] === 0 || g[5] === 0xffff) && g[6]! >> 8 === 127;
}

/** What LOCAL_MODE opens up: loopback hosts, except on the ports of the stack's own services (the
 *  functions server with the gallery and Storage, Postgres, the pooler, the worker's health check),
 *  whose answers must never become searchable. */
export interface LocalAccess {
  blockedPorts: ReadonlySet<number>;
}

/** Why `ip` on `port` may not be fetched, or undefined when it may. */
export function refusal(ip: string, port: number, local: LocalAccess | undefined): string | undefined {
  if (!isPrivateAddress(ip)) return undefined;
  if (!local || !isLoopbackAddress(ip)) return `${ip} is a private or local address`;
  if (local.blockedPorts.has(port)) return `port ${port} on ${ip} is one of the local stack's own services`;
  return undefined;
}

function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
}

/** A `lookup` for http(s).get that fails with code EPRIVATE when a host resolves to a refused address. */
export function guardedLookup(local: LocalAccess | undefined, port: number) {
  return (
    hostname: string,
    options: { all?: boolean },
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const a of addresses) {
        const why = refusal(a.address, port, local);
        if (!why) continue;
        const e = new Error(`${hostname} resolves to ${a.address}: ${why}`) as NodeJS.ErrnoException;
        e.code = "EPRIVATE";
        return callback(e, []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}

/** Node skips the lookup hook for IP literals: why the literal host of a URL is refused, if it is. */
export function literalRefusal(url: URL, local: LocalAccess | undefined): string | undefined {
  const literal = url.hostname.replace(/^\[|\]$/g, "");
  return isIP(literal) ? refusal(literal, portOf(url), local) : undefined;
}

/** Why guardedGet refused a request before any answer; each caller words it for its own users. */
export class BlockedRequest extends Error {
  override name = "BlockedRequest";
  readonly reason: "protocol" | "private" | "too-many-redirects" | "bad-redirect";
  /** The URL of the hop that was refused. */
  readonly url: URL;
  /** For "protocol": the protocol; "private": what is private; "too-many-redirects": the limit;
   *  "bad-redirect": the Location that is not a URL. */
  readonly detail: string;
  /** The redirect's status, for the two redirect reasons. */
  readonly status: number | undefined;
  constructor(reason: BlockedRequest["reason"], url: URL, detail: string, status?: number) {
    super(`${url}: ${reason} ${detail}`);
    this.reason = reason;
    this.url = url;
    this.detail = detail;
    this.status = status;
  }
}

// The hop a network error (ENOTFOUND, ECONNREFUSED, ...) happened on, which may be a redirect target.
const hopOfError = new WeakMap<object, URL>();

/** The URL whose request failed with `err`, when guardedGet made it. */
export function failedHop(err: unknown): URL | undefined {
  return typeof err === "object" && err !== null ? hopOfError.get(err) : undefined;
}

export interface GuardedGetOptions {
  /** LOCAL_MODE's allowance; undefined: public addresses only. */
  local: LocalAccess | undefined;
  maxRedirects: number;
  /** Headers for one hop: a hop to another origin may need fewer (no credentials). */
  headers?: (url: URL) => Record<string, string> | undefined;
  signal?: AbortSignal;
  /** Idle socket timeout, ms: the request fails with "<url> sent nothing for <n> ms". */
  idleTimeoutMs?: number;
}

/**
 * GET with redirects followed by hand, every hop's address checked at connect time: resolves with
 * the first response that is not a redirect, whatever its status, and the URL that gave it. Refusals reject with
 * BlockedRequest; network errors (ENOTFOUND, ECONNREFUSED, ...) reject as they are.
 */
export function guardedGet(
  url: URL,
  opts: GuardedGetOptions,
  hops = 0,
): Promise<{ response: http.IncomingMessage; url: URL }> {
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Promise.reject(new BlockedRequest("protocol", url, url.protocol));
  }
  const refused = literalRefusal(url, opts.local);
  if (refused) return Promise.reject(new BlockedRequest("private", url, refused));
  return new Promise((resolve, reject) => {
    const req = (url.protocol === "https:" ? https : http).get(
      url,
      {
        headers: opts.headers?.(url),
        signal: opts.signal,
        timeout: opts.idleTimeoutMs,
        lookup: guardedLookup(opts.local, portOf(url)) as never,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (status < 300 || status >= 400 || !location) {
          resolve({ response: res, url });
          return;
        }
        res.resume();
        if (hops >= opts.maxRedirects) {
          reject(new BlockedRequest("too-many-redirects", url, String(opts.maxRedirects), status));
          return;
        }
        // A malformed Location must reject this request, not throw inside the socket's callback.
        let next: URL;
        try {
          next = new URL(location, url);
        } catch {
          reject(new BlockedRequest("bad-redirect", url, location, status));
          return;
        }
        guardedGet(next, opts, hops + 1).then(resolve, reject);
      },
    );
    if (opts.idleTimeoutMs !== undefined) {
      const ms = opts.idleTimeoutMs;
      req.on("timeout", () => req.destroy(new Error(`${url} sent nothing for ${ms} ms`)));
    }
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPRIVATE") {
        reject(new BlockedRequest("private", url, err.message));
        return;
      }
      hopOfError.set(err, url);
      reject(err);
    });
  });
}
