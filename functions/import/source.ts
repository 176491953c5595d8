// Opens an import source as a stream of byte chunks: file:// paths confined to one folder, and
// http(s) URLs fetched with redirects followed by hand so every hop is checked. Unless LOCAL_MODE is
// on, a host that resolves to a private/loopback/link-local address is refused (SSRF).
import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { guardedLookup, privateLiteral } from "../shared/net-guard.ts";
import { InputError } from "./errors.ts";

export interface SourceOptions {
  fileRoot: string;
  allowPrivateNetwork: boolean;
  /** Idle socket timeout, ms. */
  timeoutMs?: number;
}

const MAX_REDIRECTS = 5;

export async function openSource(url: string, opts: SourceOptions): Promise<AsyncIterable<Uint8Array>> {
  if (url.toLowerCase().startsWith("file://")) return openFile(url.slice("file://".length), opts.fileRoot);
  return openHttp(url, opts);
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

async function openFile(path: string, fileRoot: string): Promise<AsyncIterable<Uint8Array>> {
  const real = await resolveFilePath(path, fileRoot);
  return createReadStream(real, { highWaterMark: 256 * 1024 });
}

function openHttp(url: string, opts: SourceOptions, hops = 0): Promise<AsyncIterable<Uint8Array>> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return Promise.reject(new InputError(`source_url ${JSON.stringify(url)} is not a valid URL`));
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    return Promise.reject(new InputError(`cannot fetch ${u.protocol} URLs; use http(s):// or file://`));
  }
  const literal = privateLiteral(u);
  if (literal && !opts.allowPrivateNetwork) {
    return Promise.reject(
      new InputError(
        `refusing to fetch ${url}: ${literal} is a private or local address; imports may only fetch public addresses`,
      ),
    );
  }
  const client = u.protocol === "https:" ? https : http;
  return new Promise((resolvePromise, reject) => {
    const req = client.get(
      u,
      { lookup: guardedLookup(opts.allowPrivateNetwork) as never, timeout: opts.timeoutMs ?? 30_000 },
      (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          if (hops >= MAX_REDIRECTS) {
            reject(new InputError(`${url} redirects more than ${MAX_REDIRECTS} times`));
            return;
          }
          let next: string;
          try {
            next = new URL(res.headers.location, u).toString();
          } catch {
            reject(new InputError(`${url} redirects to an invalid URL ${res.headers.location}`));
            return;
          }
          openHttp(next, opts, hops + 1).then(resolvePromise, reject);
          return;
        }
        if (status >= 400 && status < 500) {
          res.resume();
          reject(
            new InputError(
              `${url} answered HTTP ${status}; check that the URL is right and publicly readable`,
            ),
          );
          return;
        }
        if (status !== 200) {
          res.resume();
          // 5xx and odd statuses may pass; a plain Error lets the step retry.
          reject(new Error(`${url} answered HTTP ${status}`));
          return;
        }
        resolvePromise(res);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${url} sent nothing for ${opts.timeoutMs ?? 30_000} ms`)));
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPRIVATE") {
        reject(
          new InputError(`refusing to fetch ${url}: ${err.message}; imports may only fetch public addresses`),
        );
      } else if (err.code === "ENOTFOUND" || err.code === "EAI_AGAIN") {
        reject(new InputError(`cannot resolve host ${u.hostname}; check the URL`));
      } else if (err.code === "ECONNREFUSED" || err.code === "EHOSTUNREACH" || err.code === "ENETUNREACH") {
        reject(
          new InputError(
            `cannot connect to ${u.host} (${err.code}); check the URL and that the server is up`,
          ),
        );
      } else {
        reject(err);
      }
    });
  });
}
