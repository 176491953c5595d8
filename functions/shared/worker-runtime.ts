// Everything a worker process does around its workflows: database pool, Resonate client in the worker
// group, the concurrency cap, the health check, JSON logs and graceful shutdown. `scripts/worker.ts`
// runs the app's workloads with it; the durable-store tests run their fixture workflows with it.
import type { Resonate } from "@resonatehq/sdk";
import pg from "pg";
import { limitConcurrency } from "./concurrency.ts";
import type { AppConfig } from "./config.ts";
import { serveHealth } from "./health.ts";
import { heldTasks, releaseTasks } from "./held-tasks.ts";
import { createLogger, errorMessage, type Logger } from "./log.ts";
import { createResonate, durableStoreReady } from "./resonate-client.ts";
import { gracefulStop } from "./shutdown.ts";

/** How often a worker looks for tasks it holds in the store but no longer runs (see the sweep). */
const ORPHAN_SWEEP_MS = 5_000;

export interface WorkerContext {
  resonate: Resonate;
  pool: pg.Pool;
  log: Logger;
  worker: string;
}

export async function runWorker(
  config: AppConfig,
  worker: string,
  register: (ctx: WorkerContext) => string[],
): Promise<void> {
  const log = createLogger({ component: "worker", worker });
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: Math.max(4, config.workerConcurrency),
  });
  // A database restart must not kill the worker: broken idle connections are dropped and replaced.
  pool.on("error", (err) => log.warn("pool connection lost", { error: err.message }));
  const resonate = createResonate({
    databaseUrl: config.databaseUrl,
    resonate: config.resonate,
    pid: worker,
    log,
    releaseOwnTasksOnStart: true,
  });
  const gauge = limitConcurrency(resonate, config.workerConcurrency);
  const registered = register({ resonate, pool, log, worker });

  let stopping = false;
  const health = config.workerHealthPort
    ? await serveHealth(config.workerHealthPort, {
        worker,
        group: config.resonate.group,
        stopping: () => stopping,
        gauge,
        pool,
        storeReady: () => durableStoreReady(resonate),
      })
    : undefined;
  log.info("started", {
    group: config.resonate.group,
    store: config.resonate.serverUrl ? "resonate-server" : "postgres",
    registered,
    concurrency: config.workerConcurrency,
    health_port: config.workerHealthPort,
  });

  // The SDK releases a task whose execution failed, but when that failure was the database going away
  // the release fails too, and the task sat held by this live worker until its lease lapsed. A task
  // the store shows held here that this process is not running is such a leftover: release it.
  const sweep = config.resonate.serverUrl
    ? undefined
    : setInterval(() => {
        if (stopping || !durableStoreReady(resonate)) return;
        heldTasks(pool, worker)
          .then((held) =>
            releaseTasks(
              pool,
              `orphan-${worker}`,
              held.filter((t) => !gauge.has(t.id)),
            ),
          )
          .then((released) => {
            if (released.length > 0)
              log.warn("released tasks this worker held but no longer runs", { tasks: released });
          })
          .catch(() => {});
      }, ORPHAN_SWEEP_MS);
  sweep?.unref();

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    if (sweep) clearInterval(sweep);
    log.info("stopping", { signal, grace_ms: config.shutdownGraceMs });
    // The graceful path needs the grace period plus a moment to release; past that, exit regardless.
    const force = setTimeout(() => {
      log.warn("shutdown deadline passed; exiting");
      process.exit(1);
    }, config.shutdownGraceMs + 5_000);
    force.unref();
    try {
      const report = await gracefulStop({
        resonate,
        pool,
        pid: worker,
        graceMs: config.shutdownGraceMs,
        log,
        inProcess: () => gauge.active() + gauge.queued(),
      });
      log.info("stopped", { released: report.released });
      health?.close();
      await pool.end();
    } catch (err) {
      log.error("shutdown error", { error: errorMessage(err) });
      process.exit(1);
    }
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}
