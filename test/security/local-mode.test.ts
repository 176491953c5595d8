// LOCAL_MODE lets the workers fetch loopback sources (the local stack serves test and demo files
// there), but never link-local or cloud metadata addresses, private networks, or the ports of the
// stack's own services: the worker's health check and the functions server (gallery, Storage) would
// otherwise be crawled and served to anyone by the anonymous search.
import { afterEach, describe, expect, it } from "vitest";
import { openSource } from "../../functions/import/source.ts";
import { fetchText } from "../../functions/ingest/fetch.ts";
import { localAccessFromEnv, servicePorts } from "../../functions/shared/local-mode.ts";
import { refusal } from "../../functions/shared/net-guard.ts";
import { stackEnv } from "../../scripts/stack/env.ts";
import { DB_PORT, FUNCTIONS_PORT, POOLER_PORT, WORKER_HEALTH_PORT } from "../../scripts/stack/layout.ts";
import { startLoopbackServer } from "../support/http-server.ts";

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

const opts = { timeoutMs: 2_000, maxRateLimitWaitMs: 0 };
const refusedBy = (url: string, why: string) =>
  `GET ${url}: refused: ${why}; sources may only be fetched from public addresses (LOCAL_MODE allows loopback, except the local stack's own services)`;

describe("LOCAL_MODE", () => {
  it("knows the stack's own service ports from the environment the stack gives the worker", () => {
    const env = { ...stackEnv(), WORKER_HEALTH_PORT: String(WORKER_HEALTH_PORT) } as Record<string, string>;
    const ports = servicePorts((n) => env[n]);
    for (const p of [FUNCTIONS_PORT, DB_PORT, POOLER_PORT, WORKER_HEALTH_PORT]) {
      expect(ports.has(p), String(p)).toBe(true);
    }
  });

  it("allows loopback on other ports only, and never metadata, link-local or private networks", () => {
    const local = { blockedPorts: new Set([54321, 54330]) };
    expect(refusal("127.0.0.1", 8080, local)).toBeUndefined();
    expect(refusal("::1", 8080, local)).toBeUndefined();
    expect(refusal("::ffff:7f00:1", 8080, local)).toBeUndefined();
    expect(refusal("127.0.0.1", 54321, local)).toBe(
      "port 54321 on 127.0.0.1 is one of the local stack's own services",
    );
    expect(refusal("::ffff:127.0.0.1", 54330, local)).toBe(
      "port 54330 on ::ffff:127.0.0.1 is one of the local stack's own services",
    );
    for (const ip of [
      "169.254.169.254",
      "::ffff:a9fe:a9fe",
      "fe80::1",
      "10.0.0.5",
      "192.168.1.1",
      "172.16.0.1",
      "fd00::1",
    ]) {
      expect(refusal(ip, 80, local), ip).toBe(`${ip} is a private or local address`);
    }
    expect(refusal("93.184.216.34", 80, undefined)).toBeUndefined();
  });

  it("refuses a crawl of the gallery, the worker's health check and the metadata address", async () => {
    process.env.LOCAL_MODE = "true";
    process.env.WORKER_HEALTH_PORT = "54330";
    const gallery = `${process.env.SUPABASE_URL}/functions/v1/gallery`;
    const port = new URL(gallery).port;
    await expect(fetchText(gallery, opts)).rejects.toThrow(
      refusedBy(gallery, `port ${port} on 127.0.0.1 is one of the local stack's own services`),
    );
    const health = "http://localhost:54330/health";
    await expect(fetchText(health, opts)).rejects.toThrow(
      /^GET http:\/\/localhost:54330\/health: refused: localhost resolves to (127\.0\.0\.1|::1): port 54330 on (127\.0\.0\.1|::1) is one of the local stack's own services;/,
    );
    const metadata = "http://169.254.169.254/latest/meta-data/";
    await expect(fetchText(metadata, opts)).rejects.toThrow(
      refusedBy(metadata, "169.254.169.254 is a private or local address"),
    );
  });

  it("still reads an import source served on another loopback port, and refuses the stack's own", async () => {
    process.env.LOCAL_MODE = "true";
    const server = await startLoopbackServer((_req, res) => {
      res.writeHead(200).end("email,name\na@x.test,A\n");
    });
    try {
      const local = localAccessFromEnv();
      const chunks: Buffer[] = [];
      for await (const c of await openSource(`${server.url}/data.csv`, { fileRoot: "/nonexistent", local }))
        chunks.push(Buffer.from(c));
      expect(Buffer.concat(chunks).toString()).toBe("email,name\na@x.test,A\n");
      const storage = `${process.env.SUPABASE_URL}/storage/v1/object/public/images/x.png`;
      await expect(openSource(storage, { fileRoot: "/nonexistent", local })).rejects.toThrow(
        `refusing to fetch ${storage}: port ${new URL(storage).port} on 127.0.0.1 is one of the local stack's own services; imports may only fetch public addresses`,
      );
    } finally {
      await server.close();
    }
  });
});
