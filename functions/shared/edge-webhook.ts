// Wires the generic webhook handler to the real world inside an Edge Function: the bearer secret from
// the environment, one-call workflow starts (start-workflow.ts), and the database, through the pooler
// when configured, for recording rejected rows. Nothing is kept open between requests.
import { loadConfig } from "./config.ts";
import { edgeDatabaseUrl, withConnection } from "./edge-db.ts";
import { startWorkflow } from "./start-workflow.ts";
import { type WebhookDeps, type WebhookRoute, webhookHandler } from "./webhook.ts";

const TABLE_NAME = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;

async function buildDeps(): Promise<WebhookDeps> {
  const cfg = loadConfig();
  if (!cfg.webhookSecret) throw new Error("WEBHOOK_SECRET is not set for this function");
  return {
    secret: cfg.webhookSecret,
    start: (id, workflow, args) => startWorkflow(cfg, id, workflow, args),
    async rowExists(table, rowId) {
      if (!TABLE_NAME.test(table)) throw new Error(`bad table name ${table}`);
      const { rowCount } = await withConnection(edgeDatabaseUrl(cfg), (c) =>
        c.query(`select from ${table} where id::text = $1`, [rowId]),
      );
      return (rowCount ?? 0) > 0;
    },
    async reject(table, rowId, message) {
      // Identifiers cannot be parameters; the table comes from our own route table, checked here anyway.
      if (!TABLE_NAME.test(table)) throw new Error(`bad table name ${table}`);
      await withConnection(edgeDatabaseUrl(cfg), (c) =>
        c.query(
          `update ${table} set status = 'failed', error = $2, finished_at = now() where id::text = $1 and status = 'queued'`,
          [rowId, message],
        ),
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
