// Everything a worker process does around its workflows: database pool, Resonate client in the worker
// group (whose network caps concurrency, sweeps orphaned tasks and drains on stop), the health check,
// JSON logs and graceful shutdown. `scripts/worker.ts` runs the app's workloads with it; the
// durable-store tests run their fixture workflows with it.
import type { Resonate } from "@resonatehq/sdk";
import pg from "pg";
import type { AppConfig } from "./config.ts";
import { serveHealth } from "./health.ts";
import { createLogger, errorMessage, type Logger } from "./log.ts";
import { createClient } from "./resonate-client.ts";

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
  const { resonate, gauge, store } = createClient({
    databaseUrl: config.databaseUrl,
    resonate: config.resonate,
    pid: worker,
    concurrency: config.workerConcurrency,
    log,
  });
  const registered = register({ resonate, pool, log, worker });

  const health = config.workerHealthPort
    ? await serveHealth(config.workerHealthPort, {
        worker,
        group: config.resonate.group,
        stopping: () => stopping,
        gauge,
        pool,
        storeReady: () => store?.ready ?? true,
      })
    : undefined;
  log.info("started", {
    group: config.resonate.group,
    store: config.resonate.serverUrl ? "resonate-server" : "postgres",
    registered,
    concurrency: config.workerConcurrency,
    health_port: config.workerHealthPort,
  });

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("stopping", { signal, grace_ms: config.shutdownGraceMs });
    // The graceful path needs the grace period plus a moment to release; past that, exit regardless.
    const force = setTimeout(() => {
      log.warn("shutdown deadline passed; exiting");
      process.exit(1);
    }, config.shutdownGraceMs + 5_000);
    force.unref();
    try {
      // Take no new task, let running ones finish within the grace period, release the rest so
      // another worker resumes them at once instead of after their leases.
      const released = (await store?.drain(config.shutdownGraceMs)) ?? [];
      await resonate.stop();
      log.info("stopped", { released });
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
