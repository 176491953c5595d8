// Background processes the stack owns, tracked by pid files in .stack/pids so `down` stops exactly
// what `up` started and nothing else.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LOG_DIR, NODE_BIN, PID_DIR, ROOT } from "./layout.ts";

export function pidFile(name: string): string {
  return join(PID_DIR, `${name}.pid`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function runningPid(name: string): number | undefined {
  const file = pidFile(name);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, "utf8").trim());
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

/** Starts a long-running stack process under scripts/stack/supervise.ts, which restarts it if it dies. */
export function startDetached(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  mkdirSync(PID_DIR, { recursive: true });
  mkdirSync(LOG_DIR, { recursive: true });
  const log = openSync(join(LOG_DIR, `${name}.log`), "a");
  const child = spawn(NODE_BIN, [join(ROOT, "scripts/stack/supervise.ts"), cmd, ...args], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ["ignore", log, log],
  });
  child.unref();
  writeFileSync(pidFile(name), String(child.pid));
  return child.pid!;
}

/** Stops a stack process and everything it started: each runs as the leader of its own process group. */
export async function stopProcess(name: string, graceMs = 10_000): Promise<boolean> {
  const pid = runningPid(name);
  if (pid === undefined) {
    rmSync(pidFile(name), { force: true });
    return false;
  }
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      /* already gone */
    }
  };
  signalGroup("SIGTERM");
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  signalGroup("SIGKILL");
  rmSync(pidFile(name), { force: true });
  return true;
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (see .stack/logs)`);
}
