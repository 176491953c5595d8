// Local stand-in for Supabase Storage's REST API (storage-api), for the routes supabase-js uses to store
// and serve objects:
//   POST   /storage/v1/object/<bucket>/<path>         upload; overwrites only with `x-upsert: true`
//   PUT    /storage/v1/object/<bucket>/<path>         update (overwrites)
//   DELETE /storage/v1/object/<bucket>                remove, body {prefixes: [<path>, ...]}
//   GET    /storage/v1/object/public/<bucket>/<path>  download from a public bucket, no key needed
// Writes take the service role key. The anon key is refused as the platform refuses it when no Row
// Level Security policy allows it, which is the case for every bucket here. Buckets and object rows
// live in the `storage` schema of SUPABASE_DB_URL (sql/platform/03-storage.sql) as on the platform; the
// bytes live in STORAGE_DIR/<bucket>/<path>.
//
// Errors copy storage-api's shape and its quirk: a client error is HTTP 400 whatever it is, and the
// status that names it is the body's `statusCode` string ("404" bucket not found, "409" object exists,
// "403" refused key), which supabase-js reports as `error.statusCode` next to `error.status` 400.
import { createHash } from "node:crypto";
import pg from "pg";
import { withTransaction } from "../../functions/shared/transaction.ts";
import { parseMultipart } from "./multipart.ts";

const root = new URL("../../", import.meta.url);
const storageDir = Deno.env.get("STORAGE_DIR") ?? new URL(".stack/storage", root).pathname;
const serviceKey = Deno.env.get("SUPABASE_SERVICE_ROLE_KEY");
const anonKey = Deno.env.get("SUPABASE_ANON_KEY");

const pool = new pg.Pool({ connectionString: Deno.env.get("SUPABASE_DB_URL"), max: 4 });
// An idle connection dropped by a Postgres restart must not take the whole functions server down.
pool.on("error", (err: Error) => log("database connection lost", { error: err.message }));

function log(event: string, fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ ts: new Date().toISOString(), component: "storage", event, ...fields }));
}

/** What storage-api keeps in `storage.objects.metadata`, and what a download answers with. */
interface ObjectMetadata {
  eTag: string;
  size: number;
  mimetype: string;
  cacheControl: string;
  lastModified: string;
  contentLength: number;
  httpStatusCode: number;
}

class StorageError extends Error {
  readonly statusCode: string;
  readonly error: string;

  constructor(statusCode: string, error: string, message: string) {
    super(message);
    this.statusCode = statusCode;
    this.error = error;
  }

  render(): Response {
    const body = { statusCode: this.statusCode, error: this.error, message: this.message };
    return Response.json(body, { status: this.statusCode === "500" ? 500 : 400 });
  }
}

const noSuchBucket = () => new StorageError("404", "Bucket not found", "Bucket not found");
const noSuchKey = () => new StorageError("404", "not_found", "Object not found");
const invalidKey = (key: string) => new StorageError("400", "InvalidKey", `Invalid key: ${key}`);

// storage-api's own rules (src/storage/limits.ts). Beyond them, "." and ".." and empty segments are
// refused because the path names a file here: they would leave the bucket's folder or alias another key.
const VALID_KEY = /^(\w|\/|!|-|\.|\*|'|\(|\)| |&|\$|@|=|;|:|\+|,|\?)*$/;
const VALID_BUCKET = /^(\w|!|-|\.|\*|'|\(|\)| |&|\$|@|=|;|:|\+|,|\?)+$/;

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function objectKey(raw: string): string {
  const key = decode(raw);
  if (
    !key ||
    !VALID_KEY.test(key) ||
    key.split("/").some((seg) => seg === "" || seg === "." || seg === "..")
  ) {
    throw invalidKey(key ?? raw);
  }
  return key;
}

/** A bucket name that cannot be a bucket (or a folder name outside STORAGE_DIR) is simply not found. */
function bucketName(raw: string): string {
  const bucket = decode(raw);
  if (!bucket || !VALID_BUCKET.test(bucket) || bucket === "." || bucket === "..") throw noSuchBucket();
  return bucket;
}

const objectFile = (bucket: string, key: string) => `${storageDir}/${bucket}/${key}`;

type Caller = "service_role" | "anon";

function caller(req: Request): Caller {
  const token = /^Bearer\s+(.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
  if (token && token === serviceKey) return "service_role";
  if (token && token === anonKey) return "anon";
  // What storage-api's JWT check says about a missing token or one that is not a JWT.
  throw new StorageError("403", "Unauthorized", "Invalid Compact JWS");
}

const rlsRefusal = () =>
  new StorageError("403", "Unauthorized", "new row violates row-level security policy");

async function bucketExists(bucket: string): Promise<boolean> {
  const { rowCount } = await pool.query("select 1 from storage.buckets where id = $1", [bucket]);
  return !!rowCount;
}

interface Upload {
  bytes: Uint8Array;
  contentType: string;
  cacheControl: string;
}

// supabase-js sends a Blob or File as multipart form data (the file plus a cacheControl field in
// seconds) and anything else as the raw body with content-type and cache-control headers.
async function readUpload(req: Request): Promise<Upload> {
  const type = req.headers.get("content-type") ?? "";
  const body = new Uint8Array(await req.arrayBuffer());
  if (!/^multipart\/form-data/i.test(type)) {
    return {
      bytes: body,
      contentType: type || "application/octet-stream",
      cacheControl: req.headers.get("cache-control") || "no-cache",
    };
  }
  const parts = parseMultipart(body, type);
  const file = parts.find((p) => p.filename !== undefined);
  if (!file) throw new StorageError("400", "InvalidRequest", "No content provided");
  const seconds = parts.find((p) => p.name === "cacheControl" && p.filename === undefined);
  return {
    bytes: file.data,
    contentType: file.contentType || "application/octet-stream",
    cacheControl: seconds ? `max-age=${new TextDecoder().decode(seconds.data)}` : "no-cache",
  };
}

function metadataOf(upload: Upload): ObjectMetadata {
  return {
    eTag: `"${createHash("md5").update(upload.bytes).digest("hex")}"`,
    size: upload.bytes.byteLength,
    mimetype: upload.contentType,
    cacheControl: upload.cacheControl,
    lastModified: new Date().toISOString(),
    contentLength: upload.bytes.byteLength,
    httpStatusCode: 200,
  };
}

const INSERT_OBJECT = `
  insert into storage.objects (bucket_id, name, metadata) values ($1, $2, $3)
  on conflict (bucket_id, name) do nothing
  returning id`;
const UPSERT_OBJECT = `
  insert into storage.objects (bucket_id, name, metadata) values ($1, $2, $3)
  on conflict (bucket_id, name) do update set metadata = excluded.metadata, updated_at = now()
  returning id`;

async function upload(
  req: Request,
  rawBucket: string,
  rawKey: string,
  overwrite: boolean,
): Promise<Response> {
  const role = caller(req);
  const key = objectKey(rawKey);
  const bucket = bucketName(rawBucket);
  if (!(await bucketExists(bucket))) throw noSuchBucket();
  if (role === "anon") throw rlsRefusal();
  const body = await readUpload(req);
  const file = objectFile(bucket, key);
  await Deno.mkdir(file.slice(0, file.lastIndexOf("/")), { recursive: true });
  // Write then rename, so a download never sees half a file. The row is written first and committed
  // last: its lock makes concurrent writers of one key take turns, so the last row and the last file
  // come from the same upload, and a failed rename leaves no row behind.
  const tmp = `${file}.${crypto.randomUUID()}.tmp`;
  await Deno.writeFile(tmp, body.bytes);
  try {
    const id = await withTransaction(pool, async (client) => {
      const { rows } = await client.query<{ id: string }>(overwrite ? UPSERT_OBJECT : INSERT_OBJECT, [
        bucket,
        key,
        metadataOf(body),
      ]);
      if (!rows[0]) throw new StorageError("409", "Duplicate", "The resource already exists");
      await Deno.rename(tmp, file);
      return rows[0].id;
    });
    return Response.json({ Id: id, Key: `${bucket}/${key}` });
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

async function readPrefixes(req: Request): Promise<string[]> {
  const body: unknown = await req.json().catch(() => undefined);
  const prefixes = (body as { prefixes?: unknown } | undefined)?.prefixes;
  if (
    !Array.isArray(prefixes) ||
    prefixes.length < 1 ||
    prefixes.length > 1000 ||
    !prefixes.every((p) => typeof p === "string")
  ) {
    throw new StorageError("400", "Bad Request", "body/prefixes must be an array of 1 to 1000 object names");
  }
  return prefixes;
}

async function remove(req: Request, rawBucket: string): Promise<Response> {
  const role = caller(req);
  const bucket = bucketName(rawBucket);
  const names = await readPrefixes(req);
  if (!(await bucketExists(bucket))) throw noSuchBucket();
  // Without a delete policy the platform's RLS hides every row from the anon role: nothing is removed.
  if (role === "anon") return Response.json([]);
  const removed = await withTransaction(pool, async (client) => {
    // The deleted rows stay locked until commit, so an upload of the same key waits and its file is
    // not the one removed here.
    const { rows } = await client.query<{ name: string }>(
      `delete from storage.objects where bucket_id = $1 and name = any($2::text[])
       returning id, bucket_id, name, created_at, updated_at, metadata`,
      [bucket, names],
    );
    for (const row of rows) {
      await Deno.remove(objectFile(bucket, row.name)).catch((err) => {
        if (!(err instanceof Deno.errors.NotFound)) throw err;
      });
    }
    return rows;
  });
  return Response.json(removed);
}

async function download(rawBucket: string, rawKey: string): Promise<Response> {
  const bucket = bucketName(rawBucket);
  // No object can have a key the upload route refuses, so such a key is simply not found.
  let key: string | undefined;
  try {
    key = objectKey(rawKey);
  } catch {
    key = undefined;
  }
  const { rows } = await pool.query<{ public: boolean; metadata: ObjectMetadata | null }>(
    `select b.public, o.metadata
       from storage.buckets b
       left join storage.objects o on o.bucket_id = b.id and o.name = $2
      where b.id = $1`,
    [bucket, key ?? ""],
  );
  // A private bucket is "not found" here, exactly like a missing one.
  if (!rows[0]?.public) throw noSuchBucket();
  const meta = rows[0].metadata;
  if (!key || !meta) throw noSuchKey();
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await Deno.readFile(objectFile(bucket, key));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw noSuchKey();
    throw err;
  }
  return new Response(bytes, {
    headers: {
      "content-type": meta.mimetype,
      "cache-control": meta.cacheControl,
      etag: meta.eTag,
      "last-modified": new Date(meta.lastModified).toUTCString(),
    },
  });
}

function route(req: Request, path: string): Promise<Response> | undefined {
  const rest = /^\/storage\/v1\/object\/(.+)$/.exec(path)?.[1];
  if (rest === undefined) return undefined;
  const [bucket, ...key] = rest.split("/");
  if (req.method === "GET" && bucket === "public" && key.length >= 2)
    return download(key[0]!, key.slice(1).join("/"));
  if ((req.method === "POST" || req.method === "PUT") && key.length >= 1) {
    const overwrite = req.method === "PUT" || req.headers.get("x-upsert") === "true";
    return upload(req, bucket!, key.join("/"), overwrite);
  }
  if (req.method === "DELETE" && key.length === 0) return remove(req, bucket!);
  return undefined;
}

/** Answers every request under /storage/v1/. */
export async function handleStorageRequest(req: Request): Promise<Response> {
  const path = new URL(req.url).pathname;
  try {
    const res = await route(req, path);
    if (res) return res;
    return Response.json(
      {
        statusCode: "404",
        error: "Not Found",
        message: `Route ${req.method}:${path} not found; the local Storage stand-in serves upload, update, remove and public download`,
      },
      { status: 404 },
    );
  } catch (err) {
    if (err instanceof StorageError) return err.render();
    log("request failed", { method: req.method, path, error: (err as Error).message });
    return new StorageError("500", "InternalError", (err as Error).message).render();
  }
}
