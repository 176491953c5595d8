// Where image bytes go. Locally: a file under STORAGE_DIR/<bucket>/<path>, which the stack serves at
// Supabase Storage's public URL shape. On a real project: a Storage bucket through supabase-js. Either
// way a put is an overwrite of the same path, so a branch re-run after a crash writes the same object.
import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { SupabaseClient } from "@supabase/supabase-js";

export interface ImageStorage {
  readonly bucket: string;
  /** Stores the bytes at `path` in the bucket and returns the public URL. */
  put(path: string, bytes: Uint8Array, contentType: string): Promise<string>;
}

const SAFE_PATH = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/;

export function assertObjectPath(path: string): void {
  if (!SAFE_PATH.test(path) || path.split("/").includes(".."))
    throw new Error(`unsafe storage path ${JSON.stringify(path)}`);
}

export function publicUrl(supabaseUrl: string, bucket: string, path: string): string {
  return `${supabaseUrl.replace(/\/+$/, "")}/storage/v1/object/public/${bucket}/${path}`;
}

export function localStorage(dir: string, bucket: string, supabaseUrl: string): ImageStorage {
  return {
    bucket,
    async put(path, bytes) {
      assertObjectPath(path);
      const file = join(dir, bucket, path);
      await mkdir(dirname(file), { recursive: true });
      // Write then rename, so the server never serves a half-written file to the gallery.
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, bytes);
      await rename(tmp, file);
      return publicUrl(supabaseUrl, bucket, path);
    },
  };
}

export function supabaseStorage(client: SupabaseClient, bucket: string): ImageStorage {
  return {
    bucket,
    async put(path, bytes, contentType) {
      assertObjectPath(path);
      const { error } = await client.storage.from(bucket).upload(path, bytes, { contentType, upsert: true });
      if (error) throw new Error(`storage upload of ${bucket}/${path} failed: ${error.message}`);
      return client.storage.from(bucket).getPublicUrl(path).data.publicUrl;
    },
  };
}
