// Graceful stop for a worker on the `resonate` schema: take no new tasks, give the tasks this process
// holds until a deadline to finish, then release the rest so another worker re-runs them at once
// instead of waiting for their leases to lapse. Fencing keeps this safe: a released task's late steps
// are refused by the store.
import type { Resonate } from "@resonatehq/sdk";
import type pg from "pg";
import { heldTasks, releaseTasks } from "./held-tasks.ts";
import type { Logger } from "./log.ts";
import type { NetworkInternals } from "./resonate-client.ts";

/**
 * Stops PostgresNetwork from dequeuing messages while keeping its connection pool, so in-flight tasks
 * can still fence their steps. The SDK (0.11.5) only has an all-or-nothing stop(); this reaches into
 * its fields, which the graceful-shutdown test guards.
 */
async function stopIntake(resonate: Resonate): Promise<boolean> {
  const network = (resonate as unknown as { network?: Partial<NetworkInternals> }).network;
  if (!network || !("listenClient" in network)) return false;
  network.stopped = true;
  if (network.timer) clearTimeout(network.timer);
  await network.listenClient?.end().catch(() => {});
  return true;
}

export interface StopReport {
  finished: boolean;
  released: string[];
}

export async function gracefulStop(opts: {
  resonate: Resonate;
  pool: pg.Pool;
  pid: string;
  graceMs: number;
  log: Logger;
  /**
   * Executions this process has taken on (running or queued for a slot). The store alone cannot tell:
   * a task whose acquire is still in flight is not yet held there, and stopping the SDK under it kills
   * its execution and strands the task until its lease lapses.
   */
  inProcess: () => number;
}): Promise<StopReport> {
  const { resonate, pool, pid, graceMs, log, inProcess } = opts;
  const released: string[] = [];
  if (await stopIntake(resonate)) {
    const deadline = Date.now() + graceMs;
    let held = await heldTasks(pool, pid);
    const busy = () => held.length > 0 || inProcess() > 0;
    if (busy())
      log.info("finishing in-flight tasks", {
        tasks: held.map((t) => t.id),
        in_process: inProcess(),
        grace_ms: graceMs,
      });
    while (busy() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      held = await heldTasks(pool, pid);
    }
    released.push(...(await releaseTasks(pool, `shutdown-${pid}`, held)));
    if (released.length) log.warn("released unfinished tasks to other workers", { tasks: released });
  }
  await resonate.stop();
  return { finished: released.length === 0, released };
}
