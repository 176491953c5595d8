// Which addresses the workloads may fetch from (import sources, crawled pages). The address test is
// pure; the resolver hook applies it to every address a host name resolves to, at connect time, so DNS
// cannot swap in a private address after a check. LOCAL_MODE (the local stack) allows them.
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
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

/** True for loopback, private, link-local, unique-local, unspecified, multicast and reserved addresses. */
export function isPrivateAddress(ip: string): boolean {
  const v = isIP(ip);
  if (v === 4) return ipv4Private(ip);
  if (v !== 6) return true;
  const s = ip.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (mapped) return ipv4Private(mapped[1]!);
  if (s === "::" || s === "::1") return true;
  const first = Number.parseInt(s.split(":")[0] || "0", 16);
  return (
    (first & 0xfe00) === 0xfc00 || // unique local fc00::/7
    (first & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (first & 0xff00) === 0xff00 || // multicast
    s.startsWith("64:ff9b:") || // NAT64 can reach IPv4 private space
    s.startsWith("2001:db8:") // documentation
  );
}

/** A `lookup` for http(s).get that fails with code EPRIVATE when a host resolves to a private address. */
export function guardedLookup(allowPrivate: boolean) {
  return (
    hostname: string,
    options: { all?: boolean },
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const bad = addresses.find((a) => isPrivateAddress(a.address));
      if (bad && !allowPrivate) {
        const e = new Error(
          `${hostname} resolves to ${bad.address}, a private or local address`,
        ) as NodeJS.ErrnoException;
        e.code = "EPRIVATE";
        return callback(e, []);
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}

/** Node skips the lookup hook for IP literals: the literal host of a URL, when it is a private one. */
export function privateLiteral(url: URL): string | undefined {
  const literal = url.hostname.replace(/^\[|\]$/g, "");
  return isIP(literal) && isPrivateAddress(literal) ? literal : undefined;
}
