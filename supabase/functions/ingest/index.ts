// POST /functions/v1/ingest (pg_cron nightly, or by hand): starts `crawlCorpus` as `ingest/<UTC date>` on
// the worker group and answers 202 with the workflow id at once. The same day rejoins the same run.
import { startRun } from "../../../functions/ingest/start-run.ts";
import { type TriggerDeps, triggerHandler } from "../../../functions/ingest/trigger.ts";
import { loadConfig } from "../../../functions/shared/config.ts";
import { edgeDatabaseUrl, withConnection } from "../../../functions/shared/edge-db.ts";
import { startWorkflow } from "../../../functions/shared/start-workflow.ts";

function buildDeps(): TriggerDeps {
  const cfg = loadConfig();
  if (!cfg.webhookSecret) throw new Error("WEBHOOK_SECRET is not set for this function");
  return {
    secret: cfg.webhookSecret,
    now: () => new Date(),
    start: (runId, workflowId, req) =>
      withConnection(edgeDatabaseUrl(cfg), (c) =>
        startRun(c, (id, workflow, args) => startWorkflow(cfg, id, workflow, args), runId, workflowId, req),
      ),
  };
}

let deps: TriggerDeps | undefined;

Deno.serve(
  triggerHandler(async () => {
    deps ??= buildDeps();
    return deps;
  }),
);
