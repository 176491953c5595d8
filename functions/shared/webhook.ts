// The trigger path's HTTP half, generic over tables: on the Edge Function skeleton (endpoint.ts, which
// authenticates the Database Webhook), validate its body and start the table's workflow keyed by the
// row id. A workload adds a `WebhookRoute`; it never copies this file. Pure request logic: starting and recording are injected, so this is unit-tested
// without a database and wired to Resonate in `edge-webhook.ts`.
import type { WorkloadRoute } from "../route.ts";
import { endpoint } from "./endpoint.ts";
import { json, readJsonBody } from "./http.ts";
import { nulPlace } from "./pg-text.ts";

/** The body Supabase Database Webhooks (and our trigger) post. */
export interface DatabaseWebhook {
  type: "INSERT" | "UPDATE" | "DELETE";
  table: string;
  schema: string;
  record: Record<string, unknown> | null;
  old_record: Record<string, unknown> | null;
}

export type Validation<T> = { ok: true; value: T } | { ok: false; error: string };

/** A workload whose rows start its workflow when inserted: its table's INSERTs reach a webhook. */
export interface WebhookRoute<T> extends WorkloadRoute {
  /** Validates the inserted row; the message must say what to fix. */
  validate(record: Record<string, unknown>): Validation<T>;
  rowId(record: Record<string, unknown>): string | undefined;
  args(value: T): unknown[];
}

export interface WebhookDeps {
  secret: string;
  start(workflowId: string, workflow: string, args: unknown[]): Promise<void>;
  /** Whether the row the webhook names is in the table: a delivery for any other id starts nothing. */
  rowExists(table: string, rowId: string): Promise<boolean>;
  /** Records on the row why it will not run, so the user finds the error where they inserted. */
  reject(table: string, rowId: string, message: string): Promise<void>;
}

export function parseWebhook(body: unknown): Validation<DatabaseWebhook> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, error: "body must be a JSON object {type, table, schema, record, old_record}" };
  }
  const b = body as Record<string, unknown>;
  if (b.type !== "INSERT" && b.type !== "UPDATE" && b.type !== "DELETE") {
    return { ok: false, error: "field 'type' must be INSERT, UPDATE or DELETE" };
  }
  if (typeof b.table !== "string" || b.table === "")
    return { ok: false, error: "field 'table' must be a table name" };
  if (typeof b.schema !== "string" || b.schema === "")
    return { ok: false, error: "field 'schema' must be a schema name" };
  const isRecord = (v: unknown) => v === null || (typeof v === "object" && !Array.isArray(v));
  if (b.record === undefined || !isRecord(b.record))
    return { ok: false, error: "field 'record' must be an object or null" };
  if (b.old_record !== undefined && !isRecord(b.old_record)) {
    return { ok: false, error: "field 'old_record' must be an object or null" };
  }
  return {
    ok: true,
    value: {
      type: b.type,
      table: b.table,
      schema: b.schema,
      record: b.record as Record<string, unknown> | null,
      old_record: (b.old_record ?? null) as Record<string, unknown> | null,
    },
  };
}

export function workflowId(kind: string, rowId: string): string {
  return `${kind}/${rowId}`;
}

export function webhookHandler<T>(route: WebhookRoute<T>, deps: () => Promise<WebhookDeps>) {
  return endpoint<WebhookDeps>(
    {
      method: "POST",
      usage: "use POST with a Database Webhook body",
      secret: (d) => d.secret,
      failure: { status: 500, error: "could not start the workflow" },
      async handle(req, d) {
        const parsed = parseWebhook(await readJsonBody(req));
        if (!parsed.ok) return json(400, { error: parsed.error });
        const hook = parsed.value;
        if (`${hook.schema}.${hook.table}` !== route.table || hook.type !== "INSERT") {
          return json(200, { status: "ignored", reason: `this function handles INSERT on ${route.table}` });
        }
        if (!hook.record) {
          return json(400, {
            error: "field 'record' must be the inserted row; an INSERT's record cannot be null",
          });
        }
        const rowId = route.rowId(hook.record);
        if (!rowId) return json(400, { error: "record has no 'id'" });
        // Postgres text and jsonb cannot hold NUL, so a record with one anywhere is no row's: said as what it
        // is before any lookup, and the row with its id (if any) is left as it is.
        const nul = nulPlace(hook.record, "record");
        if (nul) return json(400, { error: `${nul}; no row can hold one; nothing was recorded or started` });
        // A forged or stale delivery would otherwise take the id, and the real row inserted later with it
        // would find its workflow already finished and never run.
        if (!(await d.rowExists(route.table, rowId))) {
          return json(404, {
            error: `no ${route.table} row has id ${rowId}; nothing was started`,
            id: rowId,
          });
        }
        const valid = route.validate(hook.record);
        if (!valid.ok) {
          await d.reject(route.table, rowId, valid.error);
          return json(400, { error: valid.error, id: rowId });
        }
        const id = workflowId(route.kind, rowId);
        await d.start(id, route.workflow, route.args(valid.value));
        return json(202, { workflow_id: id });
      },
    },
    deps,
  );
}
