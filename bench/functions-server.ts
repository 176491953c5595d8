// `npm run bench:functions-server`: what one isolate per Edge Function costs on the local functions server
// (scripts/stack/functions-server.ts): each function's cold start when the server boots them all at once
// and when one starts alone (as after a crash), its first and warm request, and the memory of the router
// and each isolate. Runs a second server on a free port, so the stack's own is left alone.
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { edgeFunctions } from "../scripts/deploy.ts";
import { stackEnv } from "../scripts/stack/env.ts";
import { ROOT } from "../scripts/stack/layout.ts";
import { type FunctionsServer, startFunctionsServer } from "../test/support/functions-server.ts";
import { type Row, report } from "./lib/report.ts";

const RUNS = 3;

function rssMiB(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) / 1024;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timedRequest(server: FunctionsServer, name: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${server.functionsUrl}/${name}`, {
    // The stack's own key: the router checks it (verify_jwt) and answers 401 without starting the isolate.
    headers: { authorization: `Bearer ${stackEnv().SUPABASE_SERVICE_ROLE_KEY}` },
  });
  await res.body?.cancel();
  return performance.now() - started;
}

/** The log record of the function's isolate becoming ready, for an isolate not `seen` before. */
function readyRecord(server: FunctionsServer, name: string, seen = new Set<number>()) {
  return server.waitForLog(
    (r) => r.event === "isolate ready" && r.function === name && !seen.has(Number(r.pid)),
  );
}

async function main(): Promise<void> {
  const names = edgeFunctions();
  const load = loadavg()[0]!.toFixed(1);
  const spawned = performance.now();
  const server = await startFunctionsServer(join(ROOT, "supabase/functions"));
  const listening = performance.now() - spawned;
  await server.waitForLog((r) => r.event === "loaded");
  const allLoaded = performance.now() - spawned;
  const boot = new Map(await Promise.all(names.map(async (n) => [n, await readyRecord(server, n)] as const)));

  const rows: Row[] = [];
  try {
    for (const name of names) {
      let pid = Number(boot.get(name)!.pid);
      const seen = new Set([pid]);
      const alone: number[] = [];
      const first: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        process.kill(pid, "SIGKILL");
        await server.waitForLog((r) => r.event === "isolate exited" && r.pid === pid);
        first.push(await timedRequest(server, name));
        const ready = await readyRecord(server, name, seen);
        alone.push(Number(ready.cold_start_ms));
        pid = Number(ready.pid);
        seen.add(pid);
      }
      const warm: number[] = [];
      for (let i = 0; i < 5; i++) warm.push(await timedRequest(server, name));
      rows.push({
        function: name,
        "cold start at boot, all at once ms": Number(boot.get(name)!.cold_start_ms),
        "cold start alone ms (median)": median(alone),
        "first request, cold ms (median)": Math.round(median(first)),
        "warm request ms (median)": median(warm),
        "isolate RSS MiB": Math.round(rssMiB(pid)),
      });
    }
    const router = rssMiB(server.pid);
    const isolates = rows.reduce((sum, r) => sum + Number(r["isolate RSS MiB"]), 0);
    report(
      "functions-server",
      "Edge Functions server: one isolate per function",
      rows,
      [
        `Router (routing, JWT check, Storage stand-in): ${Math.round(router)} MiB; all ${names.length} isolates: ${Math.round(isolates)} MiB; total ${Math.round(router + isolates)} MiB.`,
        `Boot: listening after ${Math.round(listening)} ms, every isolate loaded after ${Math.round(allLoaded)} ms (the stack waits up to 90 s).`,
        "Cold start = spawning the function's Deno process until its module has loaded and its socket listens,",
        "packages from the warm DENO_DIR (.stack/deno). At boot the server starts every isolate at once on this",
        `machine's cores; "alone" is one isolate restarted by itself, as after a crash (median of ${RUNS}), and the`,
        "first request after it includes that start. Requests are GETs with the service role key through the",
        "router's JWT check (functions that want POST answer 405; runs lists recent runs from the database).",
        "Before isolates (every function imported into the one server process, resolved from node_modules):",
        "health answered 0.3-0.4 s after start and the whole server used about 60 MiB, but one function's crash,",
        "globals, environment changes and timers reached every other function.",
        `Load average when the run started: ${load} on ${cpus().length} cores (other engineers' tests share the machine).`,
      ].join("\n"),
    );
  } finally {
    await server.stop();
  }
}

await main();
