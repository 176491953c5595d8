// The Storage API stand-in (scripts/stack/storage-api.ts) through real supabase-js against the stack's
// functions server, on buckets of the test's own. Errors are checked as the platform's storage-api gives
// them: HTTP 400 for every client error, the status that names it in the body's `statusCode`, which
// supabase-js reports as error.statusCode.
import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { createClient } from "@supabase/supabase-js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const base = process.env.SUPABASE_URL!;
const serviceKey = process.env.SUPABASE_SERVICE_ROLE_KEY!;
const clientWith = (key: string) => createClient(base, key, { auth: { persistSession: false } });
const service = clientWith(serviceKey);

const tag = randomUUID().slice(0, 8);
const PUBLIC = `storage-api-test-${tag}`;
const PRIVATE = `storage-api-test-private-${tag}`;
// The Storage API reads buckets from the database the functions server is given.
const db = new pg.Client({ connectionString: process.env.SUPABASE_DB_URL });

const bytes = (text: string) => new TextEncoder().encode(text);

beforeAll(async () => {
  await db.connect();
  await db.query("insert into storage.buckets (id, name, public) values ($1, $1, true), ($2, $2, false)", [
    PUBLIC,
    PRIVATE,
  ]);
});

afterAll(async () => {
  for (const bucket of [PUBLIC, PRIVATE]) {
    const { rows } = await db.query<{ name: string }>(
      "select name from storage.objects where bucket_id = $1",
      [bucket],
    );
    if (rows.length) await service.storage.from(bucket).remove(rows.map((r) => r.name));
    // Removing objects leaves their (now empty) folders behind.
    await rm(join(process.env.STORAGE_DIR!, bucket), { recursive: true, force: true });
  }
  await db.query("delete from storage.buckets where id in ($1, $2)", [PUBLIC, PRIVATE]);
  await db.end();
});

/** The public URL's answer: status, content type and body. */
async function publicGet(bucket: string, path: string) {
  const res = await fetch(service.storage.from(bucket).getPublicUrl(path).data.publicUrl);
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get("content-type"), text: body.toString() };
}

/** What supabase-js reports for a failed call: the HTTP status, the body's statusCode, the message. */
function apiError(error: unknown) {
  const e = error as { status?: number; statusCode?: string; message?: string } | null;
  return { status: e?.status, statusCode: e?.statusCode, message: e?.message };
}

describe("upload and upsert", () => {
  it("uploads, answers the object's id and key, and serves the bytes with their content type", async () => {
    const { data, error } = await service.storage
      .from(PUBLIC)
      .upload("a/first.txt", bytes("first"), { contentType: "text/markdown" });
    expect(error).toBeNull();
    expect(data).toMatchObject({ path: "a/first.txt", fullPath: `${PUBLIC}/a/first.txt` });
    expect(data!.id).toMatch(/^[0-9a-f-]{36}$/);
    const url = service.storage.from(PUBLIC).getPublicUrl("a/first.txt").data.publicUrl;
    expect(url).toBe(`${base}/storage/v1/object/public/${PUBLIC}/a/first.txt`);
    expect(await publicGet(PUBLIC, "a/first.txt")).toEqual({
      status: 200,
      type: "text/markdown",
      text: "first",
    });
    const row = await db.query("select metadata from storage.objects where bucket_id = $1 and name = $2", [
      PUBLIC,
      "a/first.txt",
    ]);
    expect(row.rows[0].metadata).toMatchObject({ size: 5, mimetype: "text/markdown" });
  });

  it("overwrites with upsert: true, and with update (PUT)", async () => {
    const bucket = service.storage.from(PUBLIC);
    expect((await bucket.upload("b.txt", bytes("one"), { contentType: "text/plain" })).error).toBeNull();
    const upsert = await bucket.upload("b.txt", bytes("two"), {
      contentType: "application/json",
      upsert: true,
    });
    expect(upsert.error).toBeNull();
    expect(await publicGet(PUBLIC, "b.txt")).toEqual({ status: 200, type: "application/json", text: "two" });
    expect((await bucket.update("b.txt", bytes("three"), { contentType: "text/plain" })).error).toBeNull();
    expect(await publicGet(PUBLIC, "b.txt")).toMatchObject({ text: "three" });
    const { rows } = await db.query(
      "select count(*)::int as n from storage.objects where bucket_id = $1 and name = $2",
      [PUBLIC, "b.txt"],
    );
    expect(rows[0].n).toBe(1);
  });

  it("refuses to overwrite without upsert (409) and keeps the first bytes", async () => {
    const bucket = service.storage.from(PUBLIC);
    expect((await bucket.upload("c.txt", bytes("kept"))).error).toBeNull();
    const again = await bucket.upload("c.txt", bytes("lost"));
    expect(apiError(again.error)).toEqual({
      status: 400,
      statusCode: "409",
      message: "The resource already exists",
    });
    expect(await publicGet(PUBLIC, "c.txt")).toMatchObject({ text: "kept" });
  });

  it("takes a Blob as supabase-js sends it, multipart form data, with the content type of the Blob", async () => {
    // Line breaks and a boundary-like line inside the file must survive the form's parsing.
    const text = "from a blob\r\n\r\n--not-the-boundary\r\nend";
    const blob = new Blob([text], { type: "image/svg+xml" });
    expect((await service.storage.from(PUBLIC).upload("d.svg", blob)).error).toBeNull();
    expect(await publicGet(PUBLIC, "d.svg")).toEqual({ status: 200, type: "image/svg+xml", text });
  });
});

describe("refusals", () => {
  it("refuses the anon key, a wrong key and no key, and stores nothing", async () => {
    const anon = await clientWith(process.env.SUPABASE_ANON_KEY!)
      .storage.from(PUBLIC)
      .upload("e.txt", bytes("anon"));
    expect(apiError(anon.error)).toEqual({
      status: 400,
      statusCode: "403",
      message: "new row violates row-level security policy",
    });
    const wrong = await clientWith("not-a-key").storage.from(PUBLIC).upload("e.txt", bytes("wrong"));
    expect(apiError(wrong.error)).toEqual({ status: 400, statusCode: "403", message: "Invalid Compact JWS" });
    const none = await fetch(`${base}/storage/v1/object/${PUBLIC}/e.txt`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "none",
    });
    expect(none.status).toBe(400);
    expect(await none.json()).toEqual({
      statusCode: "403",
      error: "Unauthorized",
      message: "Invalid Compact JWS",
    });
    expect((await publicGet(PUBLIC, "e.txt")).status).toBe(400);
  });

  it("answers 404 Bucket not found for an unknown bucket", async () => {
    const res = await service.storage.from(`no-such-bucket-${tag}`).upload("f.txt", bytes("f"));
    expect(apiError(res.error)).toEqual({ status: 400, statusCode: "404", message: "Bucket not found" });
  });

  it("answers 400 Invalid key for a path the platform refuses or that would leave the bucket", async () => {
    const res = await service.storage.from(PUBLIC).upload("bad<name>.txt", bytes("g"));
    expect(apiError(res.error)).toEqual({
      status: 400,
      statusCode: "400",
      message: "Invalid key: bad<name>.txt",
    });
    const post = (path: string) =>
      fetch(`${base}/storage/v1/object/${PUBLIC}/${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${serviceKey}`, "content-type": "text/plain" },
        body: "g",
      });
    for (const [path, key] of [
      ["", ""],
      ["a%2F..%2F..%2Fescape.txt", "a/../../escape.txt"],
      ["a//b.txt", "a//b.txt"],
    ]) {
      const r = await post(path!);
      expect(r.status).toBe(400);
      expect(await r.json()).toEqual({
        statusCode: "400",
        error: "InvalidKey",
        message: `Invalid key: ${key}`,
      });
    }
  });
});

describe("public download", () => {
  it("answers 404 Object not found for a missing object", async () => {
    const res = await fetch(`${base}/storage/v1/object/public/${PUBLIC}/missing.txt`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ statusCode: "404", error: "not_found", message: "Object not found" });
  });

  it("does not serve a private bucket's objects publicly", async () => {
    expect((await service.storage.from(PRIVATE).upload("secret.txt", bytes("secret"))).error).toBeNull();
    const res = await fetch(`${base}/storage/v1/object/public/${PRIVATE}/secret.txt`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      statusCode: "404",
      error: "Bucket not found",
      message: "Bucket not found",
    });
  });
});

describe("remove", () => {
  it("removes the named objects and answers them; a removed object is no longer served", async () => {
    const bucket = service.storage.from(PUBLIC);
    expect((await bucket.upload("g/1.txt", bytes("1"))).error).toBeNull();
    const { data, error } = await bucket.remove(["g/1.txt", "g/never.txt"]);
    expect(error).toBeNull();
    expect(data!.map((o) => o.name)).toEqual(["g/1.txt"]);
    expect((await publicGet(PUBLIC, "g/1.txt")).status).toBe(400);
    // The key is free again: a plain upload succeeds.
    expect((await bucket.upload("g/1.txt", bytes("again"))).error).toBeNull();
  });

  it("removes nothing with the anon key", async () => {
    const bucket = service.storage.from(PUBLIC);
    expect((await bucket.upload("h.txt", bytes("h"))).error).toBeNull();
    const anon = await clientWith(process.env.SUPABASE_ANON_KEY!).storage.from(PUBLIC).remove(["h.txt"]);
    expect(anon).toMatchObject({ data: [], error: null });
    expect(await publicGet(PUBLIC, "h.txt")).toMatchObject({ status: 200, text: "h" });
  });
});
