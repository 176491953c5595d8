// A second local functions server for tests (scripts/stack/functions-server.ts, as the stack runs it) on a
// free port, serving a functions folder of the test's choosing, so fixture functions never sit in
// supabase/functions (which is deployed) and the stack's own server is left alone.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { stackEnv } from "../../scripts/stack/env.ts";
import { DENO_BIN, ROOT } from "../../scripts/stack/layout.ts";
import { freePort } from "./free-port.ts";

export interface FunctionsServer {
  pid: number;
  /** http://127.0.0.1:<port>/functions/v1 */
  functionsUrl: string;
  /** The server's log so far, one parsed JSON record per line. */
  log(): Record<string, unknown>[];
  /** Resolves with the first log record that matches, waiting for it if need be. */
  waitForLog(
    match: (record: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startFunctionsServer(
  functionsDir: string,
  env: Record<string, string> = {},
): Promise<FunctionsServer> {
  const port = await freePort();
  const proc: ChildProcess = spawn(
    DENO_BIN,
    ["run", "--allow-all", "--no-prompt", join(ROOT, "scripts/stack/functions-server.ts")],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        ...stackEnv(),
        ...env,
        FUNCTIONS_DIR: functionsDir,
        FUNCTIONS_PORT: String(port),
        DENO_NO_UPDATE_CHECK: "1",
      },
      // Its own process group, so stop() ends its isolates too whatever state they are in.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  proc.stdout!.on("data", (d) => {
    out += d;
  });
  proc.stderr!.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const log = () =>
    out
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const server: FunctionsServer = {
    pid: proc.pid!,
    functionsUrl: `http://127.0.0.1:${port}/functions/v1`,
    log,
    async waitForLog(match, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = log().find(match);
        if (found) return found;
        if (proc.exitCode !== null) throw new Error(`functions server exited (${proc.exitCode}):\n${out}`);
        if (Date.now() > deadline)
          throw new Error(`functions server did not log it in ${timeoutMs} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) process.kill(-proc.pid!, "SIGTERM");
      await exited;
    },
  };
  await server.waitForLog((r) => r.event === "listening");
  return server;
}
