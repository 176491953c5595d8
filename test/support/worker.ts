// Starts real worker processes for tests (the same `scripts/worker.ts` that `npm run worker` runs), so
// durability tests can SIGKILL them and start fresh ones.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { stackEnv } from "../../scripts/stack/env.ts";
import { NODE_BIN, ROOT } from "../../scripts/stack/layout.ts";

export interface WorkerProcess {
  proc: ChildProcess;
  id: string;
  /** Everything the worker printed so far (JSON lines). */
  output(): string;
  /** Resolves when the output contains `text`. */
  waitForOutput(text: string | RegExp, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

let counter = 0;

export function startWorker(env: Record<string, string> = {}): WorkerProcess {
  const id = env.WORKER_ID ?? `test-worker-${process.pid}-${++counter}`;
  const proc = spawn(NODE_BIN, [join(ROOT, "scripts/worker.ts")], {
    cwd: ROOT,
    env: { ...process.env, ...stackEnv(), WORKER_ID: id, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d) => {
    out += d;
  });
  proc.stderr!.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  return {
    proc,
    id,
    output: () => out,
    async waitForOutput(text, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      const match = () => (typeof text === "string" ? out.includes(text) : text.test(out));
      while (!match()) {
        if (Date.now() > deadline)
          throw new Error(`worker ${id} did not print ${text} in ${timeoutMs} ms:\n${out}`);
        if (proc.exitCode !== null)
          throw new Error(`worker ${id} exited (${proc.exitCode}) before printing ${text}:\n${out}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async kill(signal = "SIGKILL") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}
