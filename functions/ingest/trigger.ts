// The `ingest` Edge Function's logic: authenticate the bearer secret, validate the optional body
// `{force?: boolean, trigger?: string}`, and start (or rejoin) the day's run `ingest/<UTC date>`. Pure
// request logic with starting injected, so it is unit-tested without a database.
import { endpoint } from "../shared/endpoint.ts";
import { HttpError, json, readJsonBody } from "../shared/http.ts";
import { listNames } from "../shared/name-list.ts";
import type { Validation } from "../shared/webhook.ts";
import { ingestWorkflowId, runIdFor } from "./run-id.ts";
import type { StartOutcome } from "./start-run.ts";

export interface TriggerRequest {
  force: boolean;
  trigger: string;
}

export interface TriggerDeps {
  secret: string;
  now(): Date;
  /** Begins the workflow and records the run row (if new); returns whether the row was new, or the
   *  finished workflow of a run whose row was deleted, which is not started again. */
  start(runId: string, workflowId: string, req: TriggerRequest): Promise<StartOutcome>;
}

export function parseTriggerRequest(body: unknown): Validation<TriggerRequest> {
  if (body === undefined) return { ok: true, value: { force: false, trigger: "manual" } };
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, error: 'body must be a JSON object like {"force": true} (or empty)' };
  }
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => k !== "force" && k !== "trigger");
  if (unknown.length)
    return { ok: false, error: `unknown field(s) ${listNames(unknown)}; allowed: force, trigger` };
  if (b.force !== undefined && typeof b.force !== "boolean")
    return { ok: false, error: "field 'force' must be true or false" };
  if (
    b.trigger !== undefined &&
    (typeof b.trigger !== "string" || !/^[a-z][a-z0-9_-]{0,31}$/.test(b.trigger))
  ) {
    return { ok: false, error: "field 'trigger' must be a short lowercase name such as cron or manual" };
  }
  return {
    ok: true,
    value: { force: b.force === true, trigger: (b.trigger as string | undefined) ?? "manual" },
  };
}

async function readOptionalJson(req: Request): Promise<unknown> {
  if (req.headers.get("content-length") === "0" || !req.body) return undefined;
  try {
    return await readJsonBody(req, 4096);
  } catch (err) {
    if (err instanceof HttpError && /empty/.test(err.message)) return undefined;
    throw err;
  }
}

export function triggerHandler(deps: () => Promise<TriggerDeps>) {
  return endpoint<TriggerDeps>(
    {
      method: "POST",
      usage: 'use POST (optionally with {"force": true})',
      secret: (d) => d.secret,
      failure: { status: 500, error: "could not start the ingest run" },
      async handle(req, d) {
        const parsed = parseTriggerRequest(await readOptionalJson(req));
        if (!parsed.ok) return json(400, { error: parsed.error });
        const runId = runIdFor(d.now(), parsed.value.force);
        const workflowId = ingestWorkflowId(runId);
        const started = await d.start(runId, workflowId, parsed.value);
        if ("finished" in started) {
          const { workflowId: attempt, state } = started.finished;
          return json(409, {
            error: `run ${runId} already ran (workflow ${attempt} is ${state}) and its row was deleted since; post {"force": true} to start a new run today`,
            workflow_id: attempt,
          });
        }
        return json(202, { workflow_id: workflowId, run_id: runId, created: started.created });
      },
    },
    deps,
  );
}
