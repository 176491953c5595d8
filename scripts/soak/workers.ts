// The soak's two workers, each under the stack's supervisor (as `npm start` runs one) with a fixed
// WORKER_ID, so a killed worker comes back under the same id and releases what its predecessor held.
// Their logs (.stack/logs/soak-worker-<n>.log, emptied at start) are the worker's side of the record.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stackEnv } from "../stack/env.ts";
import { HOST, LOG_DIR, NODE_BIN, ROOT, WORKER_HEALTH_PORT } from "../stack/layout.ts";
import { runningPid, startDetached, stopProcess, waitFor } from "../stack/processes.ts";
import { children } from "./procs.ts";

export interface SoakWorker {
  id: string;
  /** The name its supervisor is tracked under in .stack/pids. */
  name: string;
  supervisor: number;
  log: string;
  /** The worker process now running under the supervisor, if any. */
  pid(): number | undefined;
}

async function healthy(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://${HOST}:${port}/health`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

export async function startWorkers(count: number, env: Record<string, string>): Promise<SoakWorker[]> {
  const workers: SoakWorker[] = [];
  for (let i = 1; i <= count; i++) {
    const name = `soak-worker-${i}`;
    await stopProcess(name);
    const log = join(LOG_DIR, `${name}.log`);
    writeFileSync(log, "");
    // Health ports next to the stack's own worker's, so they move with STACK_PORT_OFFSET too.
    const port = WORKER_HEALTH_PORT + i;
    const supervisor = startDetached(name, NODE_BIN, [join(ROOT, "scripts/worker.ts")], {
      ...process.env,
      ...stackEnv(),
      ...env,
      WORKER_ID: name,
      WORKER_HEALTH_PORT: String(port),
    });
    workers.push({ id: name, name, supervisor, log, pid: () => children(supervisor)[0] });
    await waitFor(`${name}'s health check`, () => healthy(port), 60_000);
  }
  return workers;
}

export async function stopWorkers(workers: SoakWorker[]): Promise<void> {
  await Promise.all(workers.map((w) => stopProcess(w.name)));
}

/** The stack's own worker would take the soak's tasks and is not the soak's to kill; it is stopped. */
export async function stopStackWorker(): Promise<boolean> {
  return runningPid("worker") !== undefined && (await stopProcess("worker"));
}
