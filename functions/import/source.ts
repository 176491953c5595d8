// Opens an import source as a stream of byte chunks: file:// paths confined to one folder, and
// http(s) URLs fetched with redirects followed by hand so every hop is checked. A host that resolves to
// a private/loopback/link-local address is refused (SSRF); LOCAL_MODE allows loopback, except the local
// stack's own services. Batch steps open the source again at a byte offset; `identity` says whether
// that gives the same bytes (a file, or an http answer with byte ranges and a validator).
import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { BlockedRequest, failedHop, guardedGet, type LocalAccess } from "../shared/net-guard.ts";
import { InputError, SourceChangedError } from "./errors.ts";

export interface SourceOptions {
  fileRoot: string;
  /** LOCAL_MODE's allowance; undefined: public addresses only. */
  local: LocalAccess | undefined;
  /** Idle socket timeout, ms. */
  timeoutMs?: number;
}

export interface SourceIdentity {
  /** Opening it again at an offset gives the bytes it gave before (checked per batch all the same). */
  rereadable: boolean;
  /** ETag or Last-Modified that a ranged http request must match (If-Range); null for files. */
  validator: string | null;
}

export type Source = AsyncIterable<Uint8Array> & { identity: SourceIdentity };

/** Reopening at `offset` bytes; `validator` is what the first opening's identity said. */
export interface SourceResume {
  offset: number;
  validator: string | null;
}

const MAX_REDIRECTS = 5;

export async function openSource(url: string, opts: SourceOptions, resume?: SourceResume): Promise<Source> {
  if (url.toLowerCase().startsWith("file://")) {
    return openFile(url.slice("file://".length), opts.fileRoot, resume?.offset ?? 0);
  }
  return openHttp(url, opts, resume);
}

/** `file://<path>`: relative paths are inside the import folder; absolute ones must point into it. */
async function resolveFilePath(path: string, fileRoot: string): Promise<string> {
  const root = await realpath(resolve(fileRoot)).catch(() => {
    throw new InputError(`the import folder ${fileRoot} does not exist; create it and put the file there`);
  });
  const decoded = decodeURIComponent(path);
  const outside = (p: string) => {
    const rel = relative(root, p);
    return rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel);
  };
  const refuse = () =>
    new InputError(`file ${decoded} is outside the import folder ${root}; file:// sources must be inside it`);
  const wanted = isAbsolute(decoded) ? decoded : resolve(root, decoded);
  // Checked before and after resolving symlinks, so nothing outside the folder is even probed.
  if (outside(wanted)) throw refuse();
  const real = await realpath(wanted).catch(() => {
    throw new InputError(`file ${decoded} does not exist in the import folder ${root}`);
  });
  if (outside(real)) throw refuse();
  const st = await stat(real);
  if (!st.isFile()) throw new InputError(`file ${decoded} is not a regular file`);
  return real;
}

async function openFile(path: string, fileRoot: string, offset: number): Promise<Source> {
  const real = await resolveFilePath(path, fileRoot);
  const stream = createReadStream(real, { highWaterMark: 256 * 1024, start: offset });
  return Object.assign(stream, { identity: { rereadable: true, validator: null } });
}

/** An answer that can be asked again for its bytes from an offset, and the validator to ask with. */
export function httpIdentity(headers: IncomingMessage["headers"]): SourceIdentity {
  const etag = headers.etag;
  // A weak ETag may not be used in If-Range; Last-Modified may.
  const validator = etag && !etag.startsWith("W/") ? etag : (headers["last-modified"] ?? null);
  const ranges = /\bbytes\b/i.test(headers["accept-ranges"] ?? "");
  const encoded = (headers["content-encoding"] ?? "identity").toLowerCase() !== "identity";
  return { rereadable: ranges && validator !== null && !encoded, validator };
}

async function openHttp(url: string, opts: SourceOptions, resume?: SourceResume): Promise<Source> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(`source_url ${JSON.stringify(url)} is not a valid URL`);
  }
  const ranged = resume && resume.offset > 0 && resume.validator !== null;
  let got: Awaited<ReturnType<typeof guardedGet>>;
  try {
    got = await guardedGet(u, {
      local: opts.local,
      maxRedirects: MAX_REDIRECTS,
      idleTimeoutMs: opts.timeoutMs ?? 30_000,
      headers: ranged
        ? () => ({ range: `bytes=${resume.offset}-`, "if-range": resume.validator! })
        : undefined,
    });
  } catch (err) {
    throw inputErrorOf(err, u);
  }
  const { response: res, url: answered } = got;
  const status = res.statusCode ?? 0;
  const identity = httpIdentity(res.headers);
  if (status === 206 && ranged && res.headers["content-range"]?.startsWith(`bytes ${resume.offset}-`)) {
    return Object.assign(res, { identity });
  }
  if (status === 200) {
    if (!resume) return Object.assign(res, { identity });
    // A whole answer to a resumed read: the server ignored the range, or the content changed.
    if (resume.validator !== null && identity.validator !== resume.validator) {
      res.resume();
      throw new SourceChangedError(
        `${answered} now answers with ${identity.validator ?? "no validator"} instead of ${resume.validator}`,
      );
    }
    return Object.assign(skip(res, resume.offset), { identity });
  }
  res.resume();
  if (resume && status === 416) {
    throw new SourceChangedError(`${answered} has no bytes from ${resume.offset} on any more (HTTP 416)`);
  }
  if (status >= 400 && status < 500) {
    throw new InputError(
      `${answered} answered HTTP ${status}; check that the URL is right and publicly readable`,
    );
  }
  // 5xx and odd statuses may pass; a plain Error lets the step retry.
  throw new Error(`${answered} answered HTTP ${status}`);
}

/** What the person who inserted the job must fix, or the error as it is when retrying may help. */
function inputErrorOf(err: unknown, u: URL): unknown {
  if (err instanceof BlockedRequest) {
    switch (err.reason) {
      case "protocol":
        return new InputError(`cannot fetch ${err.detail} URLs; use http(s):// or file://`);
      case "private":
        return new InputError(
          `refusing to fetch ${err.url}: ${err.detail}; imports may only fetch public addresses`,
        );
      case "too-many-redirects":
        return new InputError(`${err.url} redirects more than ${err.detail} times`);
      case "bad-redirect":
        return new InputError(`${err.url} redirects to an invalid URL ${err.detail}`);
    }
  }
  const code = (err as NodeJS.ErrnoException).code;
  const hop = failedHop(err) ?? u;
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return new InputError(`cannot resolve host ${hop.hostname}; check the URL`);
  }
  if (code === "ECONNREFUSED" || code === "EHOSTUNREACH" || code === "ENETUNREACH") {
    return new InputError(`cannot connect to ${hop.host} (${code}); check the URL and that the server is up`);
  }
  return err;
}

/** The stream without its first `n` bytes. */
export async function* skip(chunks: AsyncIterable<Uint8Array>, n: number): AsyncGenerator<Uint8Array> {
  let left = n;
  for await (const c of chunks) {
    if (left >= c.length) {
      left -= c.length;
      continue;
    }
    yield left > 0 ? c.subarray(left) : c;
    left = 0;
  }
}
