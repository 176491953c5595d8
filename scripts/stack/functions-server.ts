// Local stand-in for Supabase's Edge Runtime (run by Deno): routes /functions/v1/<name> to that function's
// own isolate (function-isolates.ts), after the JWT check config.toml asks for, and hands /storage/v1/ to
// the Storage API stand-in (storage-api.ts). Serves every FUNCTIONS_DIR/<name>/index.ts (default
// supabase/functions), with config.toml read from the folder above it as the CLI lays a project out.
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { verifiesJwt } from "./function-config.ts";
import { FunctionIsolates } from "./function-isolates.ts";
import { handleStorageRequest } from "./storage-api.ts";

const root = new URL("../../", import.meta.url).pathname;
const functionsDir = resolve(root, Deno.env.get("FUNCTIONS_DIR") ?? "supabase/functions");
const supabaseDir = dirname(functionsDir);
const port = Number(Deno.env.get("FUNCTIONS_PORT") ?? 54321);

function log(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ ts: new Date().toISOString(), component: "functions", event, ...fields }));
}

async function functionNames(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(functionsDir)) {
    if (!entry.isDirectory || entry.name.startsWith("_") || entry.name.startsWith(".")) continue;
    try {
      await Deno.stat(join(functionsDir, entry.name, "index.ts"));
      names.push(entry.name);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
  }
  return names.sort();
}

const names = await functionNames();

// The platform checks the caller's JWT before a function runs unless config.toml sets
// `verify_jwt = false` for it. Locally the only tokens are the stack's anon and service role keys, so
// those are what pass; without this, code that calls a protected function with no key worked here and
// got 401 once deployed.
const verifyJwt = new Map(names.map((name) => [name, verifiesJwt(supabaseDir, name)]));
const apiKeys = [Deno.env.get("SUPABASE_ANON_KEY"), Deno.env.get("SUPABASE_SERVICE_ROLE_KEY")].filter(
  (k): k is string => !!k,
);

function jwtRefused(name: string, req: Request): Response | undefined {
  // CORS preflights carry no credentials; the platform passes them to the function.
  if (req.method === "OPTIONS" || !verifyJwt.get(name)) return undefined;
  const token = /^Bearer\s+(.+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
  if (!token) return Response.json({ code: 401, message: "Missing authorization header" }, { status: 401 });
  if (!apiKeys.includes(token)) return Response.json({ code: 401, message: "Invalid JWT" }, { status: 401 });
  return undefined;
}

async function route(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const fn = /^\/functions\/v1\/([^/]+)/.exec(url.pathname);
  if (fn) {
    const name = fn[1]!;
    if (!verifyJwt.has(name)) return Response.json({ error: `no function named ${name}` }, { status: 404 });
    return jwtRefused(name, req) ?? (await isolates.forward(name, req));
  }
  if (url.pathname.startsWith("/storage/v1/")) return await handleStorageRequest(req);
  return Response.json(
    { error: "not found", hint: "functions live at /functions/v1/<name>" },
    { status: 404 },
  );
}

// The port first: a second server on a taken port stops here, before it clears this one's sockets.
Deno.serve({ hostname: "127.0.0.1", port, onListen: () => log("listening", { port }) }, async (req) => {
  const started = performance.now();
  const res = await route(req);
  log("request", {
    method: req.method,
    path: new URL(req.url).pathname,
    status: res.status,
    ms: Math.round(performance.now() - started),
  });
  return res;
});

// Every function sees the stack's environment: the variables Supabase injects and the project's secrets.
const { FUNCTIONS_DIR: _, ...env } = Deno.env.toObject();
const isolates = new FunctionIsolates({
  supabaseDir,
  denoDir: join(root, ".stack", "deno"),
  env,
  socketDir: join(tmpdir(), `edge-isolates-${port}`),
  log,
});
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, () => {
    isolates.close();
    Deno.exit(0);
  });
}

// Every isolate starts now, so first requests find them warm; one that fails is retried on its next request.
Promise.all(names.map((name) => isolates.isolate(name).loaded)).then((loaded) =>
  log("loaded", {
    functions: names.filter((_, i) => loaded[i]!.ok),
    failed: names.filter((_, i) => !loaded[i]!.ok),
  }),
);
