// Wires the generic webhook handler to the real world inside an Edge Function: the bearer secret from
// the config, one-call workflow starts (start-workflow.ts), and the function's database (edge-function.ts)
// for checking and recording rows.
import { type EdgeContext, edgeDeps } from "./edge-function.ts";
import { startWorkflow } from "./start-workflow.ts";
import { type WebhookDeps, type WebhookRoute, webhookHandler } from "./webhook.ts";

const TABLE_NAME = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;

function webhookDeps({ cfg, db }: EdgeContext): WebhookDeps {
  if (!cfg.webhookSecret) throw new Error("WEBHOOK_SECRET is not set for this function");
  return {
    secret: cfg.webhookSecret,
    start: (id, workflow, args) => startWorkflow(cfg, id, workflow, args),
    async rowExists(table, rowId) {
      if (!TABLE_NAME.test(table)) throw new Error(`bad table name ${table}`);
      const { rowCount } = await db((c) => c.query(`select from ${table} where id::text = $1`, [rowId]));
      return (rowCount ?? 0) > 0;
    },
    async reject(table, rowId, message) {
      // Identifiers cannot be parameters; the table comes from our own route table, checked here anyway.
      if (!TABLE_NAME.test(table)) throw new Error(`bad table name ${table}`);
      await db((c) =>
        c.query(
          `update ${table} set status = 'failed', error = $2, finished_at = now() where id::text = $1 and status = 'queued'`,
          [rowId, message],
        ),
      );
    },
  };
}

const sharedDeps = edgeDeps(webhookDeps);

export function serveWebhook<T>(route: WebhookRoute<T>): (req: Request) => Promise<Response> {
  return webhookHandler(route, sharedDeps);
}
