// Wires the generic webhook handler to the real world inside an Edge Function: the bearer secret from
// the config, one-call workflow starts (start-workflow.ts), and the function's database (edge-function.ts)
// for checking and recording rows.
import { type EdgeContext, edgeDeps } from "./edge-function.ts";
import { startWorkflow } from "./start-workflow.ts";
import { type WebhookDeps, type WebhookRoute, webhookHandler } from "./webhook.ts";

const TABLE_NAME = /^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$/;

// A row by its id, through the key's index: `id = $1` takes the id as the key's type, and `id::text = $2`
// then keeps only its canonical spelling (an upper-case uuid names no row). `id::text = $1` alone read
// the whole table on every webhook.
export function rowExistsSql(table: string): string {
  if (!TABLE_NAME.test(table)) throw new Error(`bad table name ${table}`);
  return `select from ${table} where id = $1 and id::text = $2`;
}

// Identifiers cannot be parameters; the table comes from our own route table, checked here anyway.
export function rejectSql(table: string): string {
  if (!TABLE_NAME.test(table)) throw new Error(`bad table name ${table}`);
  return `update ${table} set status = 'failed', error = $3, finished_at = now() where id = $1 and id::text = $2 and status = 'queued'`;
}

/** An id the key's type cannot take (a data exception from its cast) names no row. */
async function unlessNoSuchKey<T>(query: () => Promise<T>, none: T): Promise<T> {
  try {
    return await query();
  } catch (err) {
    if (String((err as { code?: unknown }).code ?? "").startsWith("22")) return none;
    throw err;
  }
}

function webhookDeps({ cfg, db }: EdgeContext): WebhookDeps {
  if (!cfg.webhookSecret) throw new Error("WEBHOOK_SECRET is not set for this function");
  return {
    secret: cfg.webhookSecret,
    start: (id, workflow, args) => startWorkflow(cfg, id, workflow, args),
    rowExists: (table, rowId) =>
      unlessNoSuchKey(async () => {
        const { rowCount } = await db((c) => c.query(rowExistsSql(table), [rowId, rowId]));
        return (rowCount ?? 0) > 0;
      }, false),
    async reject(table, rowId, message) {
      await unlessNoSuchKey(() => db((c) => c.query(rejectSql(table), [rowId, rowId, message])), undefined);
    },
  };
}

const sharedDeps = edgeDeps(webhookDeps);

export function serveWebhook<T>(route: WebhookRoute<T>): (req: Request) => Promise<Response> {
  return webhookHandler(route, sharedDeps);
}
