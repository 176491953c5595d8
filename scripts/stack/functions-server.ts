// Local stand-in for Supabase's Edge Runtime (run by Deno): serves every
// supabase/functions/<name>/index.ts at /functions/v1/<name>, and hands /storage/v1/ to the Storage API
// stand-in (storage-api.ts). Each function calls Deno.serve(handler) at top level as it would on the
// platform; while importing it we capture that handler instead of opening a port.
import { handleStorageRequest } from "./storage-api.ts";

type Handler = (req: Request) => Response | Promise<Response>;

const root = new URL("../../", import.meta.url);
const functionsDir = new URL("supabase/functions/", root);
const port = Number(Deno.env.get("FUNCTIONS_PORT") ?? 54321);

// The platform checks the caller's JWT before a function runs unless config.toml sets
// `verify_jwt = false` for it. Locally the only tokens are the stack's anon and service role keys, so
// those are what pass; without this, code that calls a protected function with no key worked here and
// got 401 once deployed.
const verifyJwt = await readVerifyJwt();
const apiKeys = [Deno.env.get("SUPABASE_ANON_KEY"), Deno.env.get("SUPABASE_SERVICE_ROLE_KEY")].filter(
  (k): k is string => !!k,
);

async function readVerifyJwt(): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  let text = "";
  try {
    text = await Deno.readTextFile(new URL("supabase/config.toml", root));
  } catch {
    return out;
  }
  let section: string | undefined;
  for (const line of text.split("\n")) {
    const head = /^\s*\[functions\.([^\]]+)\]\s*$/.exec(line);
    if (head) section = head[1]!.replace(/^"|"$/g, "");
    else if (/^\s*\[/.test(line)) section = undefined;
    const v = /^\s*verify_jwt\s*=\s*(true|false)\b/.exec(line);
    if (section && v) out.set(section, v[1] === "true");
  }
  return out;
}

function jwtRefused(name: string, req: Request): Response | undefined {
  // CORS preflights carry no credentials; the platform passes them to the function.
  if (req.method === "OPTIONS" || verifyJwt.get(name) === false) return undefined;
  const token = /^Bearer\s+(.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
  if (!token) return Response.json({ code: 401, message: "Missing authorization header" }, { status: 401 });
  if (!apiKeys.includes(token)) return Response.json({ code: 401, message: "Invalid JWT" }, { status: 401 });
  return undefined;
}

const handlers = new Map<string, Handler>();
const failures = new Map<string, string>();

function log(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ ts: new Date().toISOString(), component: "functions", event, ...fields }));
}

async function loadFunction(name: string): Promise<void> {
  let captured: Handler | undefined;
  const deno = Deno as unknown as { serve: unknown };
  const realServe = deno.serve;
  deno.serve = (a: unknown, b?: unknown) => {
    const h =
      typeof a === "function" ? a : typeof b === "function" ? b : (a as { handler?: Handler }).handler;
    captured = h as Handler;
    return { finished: Promise.resolve(), shutdown: async () => {}, ref() {}, unref() {}, addr: { port } };
  };
  try {
    await import(new URL(`${name}/index.ts`, functionsDir).href);
    if (!captured) throw new Error("index.ts did not call Deno.serve(handler)");
    handlers.set(name, captured);
  } catch (err) {
    failures.set(name, (err as Error).stack ?? String(err));
    log("load failed", { function: name, error: (err as Error).message });
  } finally {
    deno.serve = realServe;
  }
}

for await (const entry of Deno.readDir(functionsDir)) {
  if (entry.isDirectory && !entry.name.startsWith("_") && !entry.name.startsWith(".")) {
    try {
      await Deno.stat(new URL(`${entry.name}/index.ts`, functionsDir));
      await loadFunction(entry.name);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
}
log("loaded", { functions: [...handlers.keys()].sort(), failed: [...failures.keys()] });

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => log("listening", { port }) }, async (req) => {
  const url = new URL(req.url);
  const started = performance.now();
  let res: Response;
  const fn = /^\/functions\/v1\/([^/]+)/.exec(url.pathname);
  if (fn) {
    const name = fn[1]!;
    const handler = handlers.get(name);
    const refused = handler ? jwtRefused(name, req) : undefined;
    if (refused) {
      res = refused;
    } else if (handler) {
      try {
        res = await handler(req);
      } catch (err) {
        log("uncaught", { function: name, error: (err as Error).message });
        res = Response.json({ error: "function threw", message: (err as Error).message }, { status: 500 });
      }
    } else if (failures.has(name)) {
      res = Response.json(
        { error: `function ${name} failed to load`, detail: failures.get(name) },
        { status: 500 },
      );
    } else {
      res = Response.json({ error: `no function named ${name}` }, { status: 404 });
    }
  } else if (url.pathname.startsWith("/storage/v1/")) {
    res = await handleStorageRequest(req);
  } else {
    res = Response.json(
      { error: "not found", hint: "functions live at /functions/v1/<name>" },
      { status: 404 },
    );
  }
  log("request", {
    method: req.method,
    path: url.pathname,
    status: res.status,
    ms: Math.round(performance.now() - started),
  });
  return res;
});
