// The images workload's storage for real: supabase-js uploads to the stack's Storage API stand-in, into a
// public bucket of the test's own, and the URL it returns serves the bytes back.
import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { createClient } from "@supabase/supabase-js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodePng } from "../../functions/images/png.ts";
import { supabaseStorage } from "../../functions/images/storage.ts";

const png = encodePng(3, 3, new Uint8Array(27).fill(90));
const bucket = `images-test-${randomUUID().slice(0, 8)}`;
const client = createClient(process.env.SUPABASE_URL!, process.env.SUPABASE_SERVICE_ROLE_KEY!, {
  auth: { persistSession: false },
});
const storage = supabaseStorage(client, bucket);
// The Storage API reads buckets from the database the functions server is given.
const db = new pg.Client({ connectionString: process.env.SUPABASE_DB_URL });

beforeAll(async () => {
  await db.connect();
  await db.query("insert into storage.buckets (id, name, public) values ($1, $1, true)", [bucket]);
});

afterAll(async () => {
  await client.storage.from(bucket).remove(["r/cartoon.png", "r/again.png"]);
  // Removing objects leaves their (now empty) folders behind.
  await rm(join(process.env.STORAGE_DIR!, bucket), { recursive: true, force: true });
  await db.query("delete from storage.buckets where id = $1", [bucket]);
  await db.end();
});

const bytesAt = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer());

describe("supabase storage", () => {
  it("uploads through supabase-js and returns the public URL, which serves the PNG", async () => {
    const url = await storage.put("r/cartoon.png", png, "image/png");
    expect(url).toBe(`${process.env.SUPABASE_URL}/storage/v1/object/public/${bucket}/r/cartoon.png`);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(png))).toBe(true);
  });

  it("overwrites the same path when a branch runs again", async () => {
    const other = encodePng(2, 2, new Uint8Array(12).fill(1));
    await storage.put("r/again.png", png, "image/png");
    const url = await storage.put("r/again.png", other, "image/png");
    expect((await bytesAt(url)).equals(Buffer.from(other))).toBe(true);
  });

  it("refuses paths that would escape the bucket before sending anything", async () => {
    await expect(storage.put("../secrets.env", png, "image/png")).rejects.toThrow(
      'unsafe storage path "../secrets.env"',
    );
    await expect(storage.put("a/../../b.png", png, "image/png")).rejects.toThrow("unsafe storage path");
  });

  it("fails with the Storage API's reason when the bucket does not exist", async () => {
    const missing = supabaseStorage(client, `${bucket}-missing`);
    await expect(missing.put("r/x.png", png, "image/png")).rejects.toThrow(
      `storage upload of ${bucket}-missing/r/x.png failed: Bucket not found`,
    );
  });
});
