// The worker process: joins Resonate group "workers" on the app database (or RESONATE_URL) and runs
// every registered workload's workflows. `npm run worker`; settings in .env.example.
import { workloads } from "../functions/registry.ts";
import { ConfigError, loadConfig } from "../functions/shared/config.ts";
import { errorMessage } from "../functions/shared/log.ts";
import { runWorker } from "../functions/shared/worker-runtime.ts";

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
  const worker = process.env.WORKER_ID || `worker-${process.pid}`;
  await runWorker(config, worker, ({ resonate, pool, log }) => {
    for (const w of workloads) w.register(resonate, { pool, config, log });
    return workloads.map((w) => w.route.kind);
  });
}

main().catch((err) => {
  console.error(`worker: ${errorMessage(err)}`);
  process.exit(1);
});
