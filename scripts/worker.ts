// The worker process: joins Resonate group "workers" on the app database (or RESONATE_URL) and runs
// every registered workload's workflows. `npm run worker`.
import pg from "pg";
import { workloads } from "../functions/registry.ts";
import { ConfigError, loadConfig } from "../functions/shared/config.ts";
import { createLogger, errorMessage } from "../functions/shared/log.ts";
import { createResonate } from "../functions/shared/resonate-client.ts";
import { gracefulStop } from "../functions/shared/shutdown.ts";

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`worker: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const pid = process.env.WORKER_ID ?? `worker-${process.pid}`;
  const log = createLogger({ component: "worker", worker: pid });
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: Math.max(4, config.workerConcurrency),
  });
  pool.on("error", (err) => log.warn("pool error", { error: err.message }));
  const resonate = createResonate({ databaseUrl: config.databaseUrl, resonate: config.resonate, pid, log });
  const deps = { pool, config, log };
  for (const w of workloads) {
    w.register(resonate, deps);
    log.info("registered", { workload: w.name });
  }
  log.info("started", {
    group: config.resonate.group,
    store: config.resonate.serverUrl ? "resonate-server" : "postgres",
    workloads: workloads.map((w) => w.name),
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("stopping", { signal });
    // The graceful path needs the grace period plus a moment to release; past that, exit regardless.
    const force = setTimeout(() => {
      log.warn("shutdown deadline passed; exiting", { grace_ms: config.shutdownGraceMs });
      process.exit(1);
    }, config.shutdownGraceMs + 5_000);
    force.unref();
    try {
      const report = await gracefulStop({ resonate, pool, pid, graceMs: config.shutdownGraceMs, log });
      log.info("in-flight work handed off", { released: report.released.length });
      await pool.end();
    } catch (err) {
      log.error("shutdown error", { error: errorMessage(err) });
    }
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
}

main().catch((err) => {
  console.error(`worker: ${errorMessage(err)}`);
  process.exit(1);
});
