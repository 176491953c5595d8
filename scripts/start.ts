// `npm start`: brings the local stack up, starts the worker, and says where everything is.

import { join } from "node:path";
import { FUNCTIONS_URL, stackEnv } from "./stack/env.ts";
import { NODE_BIN, ROOT, WORKER_HEALTH_PORT } from "./stack/layout.ts";
import { runningPid, startDetached, waitFor } from "./stack/processes.ts";
import { up } from "./stack.ts";

async function main(): Promise<void> {
  await up();
  const env = stackEnv();
  if (runningPid("worker") === undefined) {
    startDetached("worker", NODE_BIN, [join(ROOT, "scripts/worker.ts")], {
      ...process.env,
      ...env,
      WORKER_ID: "worker-main",
      WORKER_HEALTH_PORT: String(WORKER_HEALTH_PORT),
    });
  }
  await waitFor(
    "the worker's health check",
    async () => {
      try {
        return (await fetch(`http://127.0.0.1:${WORKER_HEALTH_PORT}/health`)).ok;
      } catch {
        return false;
      }
    },
    30_000,
  );
  console.log(`
durable-pipelines is running.

  Database         ${env.DATABASE_URL}
  Edge Functions   ${FUNCTIONS_URL}/<name>   (health: ${FUNCTIONS_URL}/health)
  Storage          ${env.SUPABASE_URL}/storage/v1/object/public/<bucket>/<path>
  Worker           pid ${runningPid("worker")}, group "workers", health http://127.0.0.1:${WORKER_HEALTH_PORT}/health
                   log .stack/logs/worker.log
  Logs             .stack/logs/

Try next:
  npm run demo                       # an import job, an image request and an ingest run, end to end
  npm run stack -- status            # each process, its port and health
  npm run status -- --watch          # recent runs with progress
  export $(npm run -s stack -- env)  # DATABASE_URL, keys and the webhook secret in your shell
  psql "$DATABASE_URL"               # then: select * from public.workflow_runs;
  npm run stack -- down              # stop everything this stack started
`);
}

main().catch((err) => {
  console.error(`start: ${(err as Error).message}`);
  process.exit(1);
});
