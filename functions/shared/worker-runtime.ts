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

/** How often a worker looks for tasks held under its id that it is not running (see releaseOrphans). */
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
  let stopping = false;
  const resonate = createResonate({
    databaseUrl: config.databaseUrl,
    resonate: config.resonate,
    pid: worker,
    log,
    onStoreReady: () => void releaseOrphans(),
  });
  const gauge = limitConcurrency(resonate, config.workerConcurrency);

  // Tasks the store shows held under this worker id that this process is not running: a crashed
  // predecessor's (a supervisor restarts a worker under the same WORKER_ID), or ones whose execution
  // failed because the database went away, when the SDK's own release failed the same way. Until
  // released they wait out their leases; released, the group resumes them at once. Runs when the
  // store connects, then every ORPHAN_SWEEP_MS.
  async function releaseOrphans(): Promise<void> {
    if (stopping || config.resonate.serverUrl || !durableStoreReady(resonate)) return;
    try {
      const orphans = (await heldTasks(pool, worker)).filter((t) => !gauge.has(t.id));
      const released = await releaseTasks(pool, `orphan-${worker}`, orphans);
      if (released.length > 0)
        log.warn("released tasks held under this worker id that it is not running", { tasks: released });
    } catch {
      // The database is away; the next sweep tries again.
    }
  }
  const registered = register({ resonate, pool, log, worker });

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

  const sweep = config.resonate.serverUrl
    ? undefined
    : setInterval(() => void releaseOrphans(), ORPHAN_SWEEP_MS);
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
