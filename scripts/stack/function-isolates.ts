// The local functions server's isolates: each Edge Function runs in a Deno process of its own
// (function-isolate.ts), as the edge runtime gives each function its own isolate. Its packages resolve only
// through the import map the CLI would pick for it (DENO_NO_PACKAGE_JSON=1, no config, so neither
// package.json nor node_modules), and its environment, globals, module state and timers are its own. A
// function that fails to load or dies is replaced by a fresh isolate on its next request; the others
// never notice.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { importMapFor } from "./function-config.ts";

const RUNNER = new URL("./function-isolate.ts", import.meta.url).pathname;
// Enough for a first start that downloads every package into an empty DENO_DIR.
const LOAD_TIMEOUT_MS = 60_000;
const STDERR_TAIL_LINES = 20;

export type Log = (event: string, fields: Record<string, unknown>) => void;

export interface IsolateOptions {
  /** The folder holding config.toml and functions/<name>/index.ts. */
  supabaseDir: string;
  /** Package cache shared by every isolate, so each package downloads once. */
  denoDir: string;
  /** What every function sees in Deno.env: the variables Supabase injects and the project's secrets. */
  env: Record<string, string>;
  /** Where the isolates' sockets go, emptied first: one folder per server port, so a server killed
   * without cleaning up leaves nothing the next one on its port does not clear. Short, as socket paths
   * must be. */
  socketDir: string;
  log: Log;
}

type Loaded = { ok: true; ms: number } | { ok: false; reason: string };

interface Isolate {
  pid: number;
  client: Deno.HttpClient;
  loaded: Promise<Loaded>;
  /** Settles once the process has exited and its output has been read to the end. */
  closed: Promise<Deno.CommandStatus>;
  stderr: string[];
}

const delay = (ms: number) => new Promise<undefined>((r) => setTimeout(r, ms, undefined));

function exitReason(status: Deno.CommandStatus): string {
  return status.signal ? `killed by ${status.signal}` : `exit code ${status.code}`;
}

/** The resolution flags the platform's bundler amounts to: the function's own deno.json, or an import
 * map, or nothing but fully qualified specifiers. */
function resolutionFlags(supabaseDir: string, name: string): string[] {
  const map = importMapFor(supabaseDir, name);
  if (!map) return ["--no-config"];
  if (/deno\.jsonc?$/.test(map)) return ["--config", join(supabaseDir, map)];
  return ["--no-config", "--import-map", join(supabaseDir, map)];
}

export class FunctionIsolates {
  readonly #opts: IsolateOptions;
  readonly #live = new Map<string, Isolate>();
  #started = 0;

  constructor(opts: IsolateOptions) {
    this.#opts = opts;
    rmSync(opts.socketDir, { recursive: true, force: true });
    mkdirSync(opts.socketDir, { recursive: true, mode: 0o700 });
  }

  /** The isolate serving `name`, started if it has none. */
  isolate(name: string): Isolate {
    return this.#live.get(name) ?? this.#start(name);
  }

  /** Passes the request to the function's isolate, as it arrived: the function sees the same URL. */
  async forward(name: string, req: Request): Promise<Response> {
    const isolate = this.isolate(name);
    const loaded = await isolate.loaded;
    if (!loaded.ok) {
      this.#forget(name, isolate);
      return Response.json(
        {
          error: `function ${name} failed to load; the next request tries again in a fresh isolate`,
          detail: loaded.reason,
        },
        { status: 500 },
      );
    }
    const init: RequestInit & { client: Deno.HttpClient } = {
      method: req.method,
      headers: req.headers,
      body: req.body,
      redirect: "manual",
      client: isolate.client,
    };
    try {
      return await fetch(req.url, init);
    } catch (err) {
      const status = await Promise.race([isolate.closed, delay(1_000)]);
      if (!status) {
        return Response.json(
          { error: `function ${name} did not answer`, detail: (err as Error).message },
          { status: 502 },
        );
      }
      return Response.json(
        {
          error: `function ${name} crashed (${exitReason(status)}); the next request starts a fresh isolate`,
          detail: isolate.stderr.join("\n"),
        },
        { status: 500 },
      );
    }
  }

  /** Removes the sockets' folder; the isolates end with this process (function-isolate.ts). */
  close(): void {
    rmSync(this.#opts.socketDir, { recursive: true, force: true });
  }

  #start(name: string): Isolate {
    const started = performance.now();
    const socket = join(this.#opts.socketDir, `${name}-${++this.#started}.sock`);
    const entry = new URL(`file://${join(this.#opts.supabaseDir, "functions", name, "index.ts")}`).href;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--no-prompt",
        "--no-lock",
        "--quiet",
        ...resolutionFlags(this.#opts.supabaseDir, name),
        RUNNER,
        socket,
        entry,
      ],
      clearEnv: true,
      env: {
        ...this.#opts.env,
        DENO_DIR: this.#opts.denoDir,
        DENO_NO_PACKAGE_JSON: "1",
        DENO_NO_UPDATE_CHECK: "1",
        NO_COLOR: "1",
      },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr: string[] = [];
    const output = Promise.all([
      this.#relay(name, child.stdout, "stdout"),
      this.#relay(name, child.stderr, "stderr", (line) => {
        stderr.push(line);
        if (stderr.length > STDERR_TAIL_LINES) stderr.shift();
      }),
    ]);
    const closed = Promise.all([child.status, output]).then(([status]) => status);
    const isolate: Isolate = {
      pid: child.pid,
      client: Deno.createHttpClient({ proxy: { transport: "unix", path: socket } }),
      loaded: this.#whenListening(child, socket, closed, stderr, started),
      closed,
      stderr,
    };
    this.#live.set(name, isolate);
    this.#opts.log("isolate starting", { function: name, pid: child.pid });
    isolate.loaded.then((loaded) =>
      this.#opts.log(loaded.ok ? "isolate ready" : "isolate failed to load", {
        function: name,
        pid: child.pid,
        ...(loaded.ok ? { cold_start_ms: loaded.ms } : { error: loaded.reason }),
      }),
    );
    closed.then((status) => {
      this.#forget(name, isolate);
      isolate.client.close();
      Deno.remove(socket).catch(() => {});
      this.#opts.log("isolate exited", { function: name, pid: child.pid, reason: exitReason(status) });
    });
    return isolate;
  }

  async #whenListening(
    child: Deno.ChildProcess,
    socket: string,
    closed: Promise<Deno.CommandStatus>,
    stderr: string[],
    started: number,
  ): Promise<Loaded> {
    const deadline = started + LOAD_TIMEOUT_MS;
    while (performance.now() < deadline) {
      const status = await Promise.race([closed, delay(10)]);
      if (status) return { ok: false, reason: stderr.join("\n") || exitReason(status) };
      try {
        await Deno.lstat(socket);
        return { ok: true, ms: Math.round(performance.now() - started) };
      } catch {
        // not listening yet
      }
    }
    child.kill("SIGKILL");
    return { ok: false, reason: `index.ts did not finish loading within ${LOAD_TIMEOUT_MS / 1000} s` };
  }

  #forget(name: string, isolate: Isolate): void {
    if (this.#live.get(name) === isolate) this.#live.delete(name);
  }

  /** The function's output goes to the server's log as JSON lines that name the function. */
  async #relay(
    name: string,
    stream: ReadableStream<Uint8Array<ArrayBuffer>>,
    kind: "stdout" | "stderr",
    onLine?: (line: string) => void,
  ): Promise<void> {
    let rest = "";
    const emit = (line: string) => {
      if (!line) return;
      onLine?.(line);
      console.log(JSON.stringify(asLogRecord(name, kind, line)));
    };
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      lines.forEach(emit);
    }
    emit(rest);
  }
}

function asLogRecord(name: string, stream: string, line: string): Record<string, unknown> {
  try {
    const record = JSON.parse(line);
    if (record && typeof record === "object" && !Array.isArray(record)) return { function: name, ...record };
  } catch {
    // plain text
  }
  return { ts: new Date().toISOString(), component: "function", function: name, stream, message: line };
}
