// Where image bytes go: a Storage bucket through supabase-js, on a hosted project and on the local stack
// alike (there the functions server stands in for the Storage API). A put is an upsert of the same
// path, so a branch re-run after a crash writes the same object.
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
