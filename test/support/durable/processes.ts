// Spawns fixture worker processes against a test database.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { NODE_BIN, ROOT } from "../../../scripts/stack/layout.ts";

export interface FixtureWorker {
  id: string;
  proc: ChildProcess;
  output(): string;
  ready(): Promise<void>;
  /** Resolves once the worker logged that it received SIGTERM and began stopping. */
  waitForStopping(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function startFixtureWorker(
  databaseUrl: string,
  group: string,
  id: string,
  extraEnv: Record<string, string> = {},
): FixtureWorker {
  const proc = spawn(NODE_BIN, [join(ROOT, "test/support/durable/worker.ts")], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      RESONATE_GROUP: group,
      WORKER_ID: id,
      RESONATE_URL: "",
      ...extraEnv,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  return {
    id,
    proc,
    output: () => out,
    async ready() {
      const deadline = Date.now() + 20_000;
      while (!out.includes('"event":"started"')) {
        if (proc.exitCode !== null || Date.now() > deadline)
          throw new Error(`fixture worker ${id} failed:\n${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async waitForStopping() {
      const deadline = Date.now() + 10_000;
      while (!out.includes('"event":"stopping"')) {
        if (Date.now() > deadline) throw new Error(`fixture worker ${id} never began stopping:\n${out}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async kill(signal = "SIGKILL") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}
