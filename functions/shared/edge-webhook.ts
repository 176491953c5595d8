// Wires the generic webhook handler to the real world inside an Edge Function: the bearer secret from
// the environment, Resonate (this process joins group "edge", so it only starts workflows and never
// takes the workers' tasks), and the database for recording rejected rows.
import pg from "pg";
import { loadConfig } from "./config.ts";
import { createResonate, toWorkers } from "./resonate-client.ts";
import { type WebhookDeps, type WebhookRoute, webhookHandler } from "./webhook.ts";

const TABLE_NAME = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;

async function buildDeps(): Promise<WebhookDeps> {
  const cfg = loadConfig();
  if (!cfg.webhookSecret) throw new Error("WEBHOOK_SECRET is not set for this function");
  const pool = new pg.Pool({ connectionString: cfg.databaseUrl, max: 4 });
  // An idle connection broken by a database restart must not take the whole function down.
  pool.on("error", (err) => console.error(JSON.stringify({ event: "pool error", error: err.message })));
  const resonate = createResonate({ databaseUrl: cfg.databaseUrl, resonate: cfg.resonate, group: "edge" });
  const toWorkerGroup = toWorkers(resonate, cfg.resonate.group);
  return {
    secret: cfg.webhookSecret,
    async start(id, workflow, args) {
      await resonate.beginRpc(id, workflow, ...args, toWorkerGroup);
    },
    async reject(table, rowId, message) {
      // Identifiers cannot be parameters; the table comes from our own route table, checked here anyway.
      if (!TABLE_NAME.test(table)) throw new Error(`bad table name ${table}`);
      await pool.query(
        `update ${table} set status = 'failed', error = $2, finished_at = now() where id::text = $1 and status = 'queued'`,
        [rowId, message],
      );
    },
  };
}

let deps: Promise<WebhookDeps> | undefined;

function sharedDeps(): Promise<WebhookDeps> {
  deps ??= buildDeps().catch((err) => {
    deps = undefined;
    throw err;
  });
  return deps;
}

export function serveWebhook<T>(route: WebhookRoute<T>): (req: Request) => Promise<Response> {
  return webhookHandler(route, sharedDeps);
}
