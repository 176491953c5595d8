// Both storage back ends for real: files under STORAGE_DIR fetched back through the stack's Storage
// URL, and supabase-js's upload against a loopback server that speaks the Storage API's upload route.
import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createClient } from "@supabase/supabase-js";
import { afterAll, describe, expect, it } from "vitest";
import { encodePng } from "../../functions/images/png.ts";
import { localStorage, publicUrl, supabaseStorage } from "../../functions/images/storage.ts";

const png = encodePng(3, 3, new Uint8Array(27).fill(90));
const prefix = `test-${randomUUID()}`;

describe("local storage", () => {
  const dir = process.env.STORAGE_DIR!;
  const storage = localStorage(dir, "images", process.env.SUPABASE_URL!);
  afterAll(() => rm(join(dir, "images", prefix), { recursive: true, force: true }));

  it("writes under STORAGE_DIR/<bucket>/<path> and the stack serves it at the Storage public URL", async () => {
    const url = await storage.put(`${prefix}/cartoon.png`, png, "image/png");
    expect(url).toBe(`${process.env.SUPABASE_URL}/storage/v1/object/public/images/${prefix}/cartoon.png`);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(png))).toBe(true);
  });

  it("overwrites the same path when a branch runs again", async () => {
    const other = encodePng(2, 2, new Uint8Array(12).fill(1));
    await storage.put(`${prefix}/again.png`, png, "image/png");
    const url = await storage.put(`${prefix}/again.png`, other, "image/png");
    expect(Buffer.from(await (await fetch(url)).arrayBuffer()).equals(Buffer.from(other))).toBe(true);
  });

  it("refuses paths that would escape the bucket", async () => {
    await expect(storage.put("../secrets.env", png, "image/png")).rejects.toThrow(
      'unsafe storage path "../secrets.env"',
    );
    await expect(storage.put("a/../../b.png", png, "image/png")).rejects.toThrow("unsafe storage path");
  });
});

describe("supabase storage", () => {
  let server: Server;
  afterAll(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  it("uploads with upsert through supabase-js and returns the public URL", async () => {
    const seen: {
      method?: string;
      url?: string;
      auth?: string;
      upsert?: string;
      type?: string;
      body?: Buffer;
    }[] = [];
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (d) => chunks.push(d));
      req.on("end", () => {
        seen.push({
          method: req.method,
          url: req.url,
          auth: req.headers.authorization,
          upsert: req.headers["x-upsert"] as string,
          type: req.headers["content-type"],
          body: Buffer.concat(chunks),
        });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ Id: "1", Key: "images/r/cartoon.png" }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = createClient(base, "service-role-key", { auth: { persistSession: false } });
    const url = await supabaseStorage(client, "images").put("r/cartoon.png", png, "image/png");
    expect(url).toBe(publicUrl(base, "images", "r/cartoon.png"));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      method: "POST",
      url: "/storage/v1/object/images/r/cartoon.png",
      auth: "Bearer service-role-key",
      upsert: "true",
      type: "image/png",
    });
    expect(seen[0]!.body!.equals(Buffer.from(png))).toBe(true);
  });
});
