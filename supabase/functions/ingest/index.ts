// POST /functions/v1/ingest (pg_cron nightly, or by hand): starts `crawlCorpus` as `ingest/<UTC date>` on
// the worker group and answers 202 with the workflow id at once. The same day rejoins the same run.
import { startRun } from "../../../functions/ingest/start-run.ts";
import { type TriggerDeps, triggerHandler } from "../../../functions/ingest/trigger.ts";
import { edgeDeps } from "../../../functions/shared/edge-function.ts";
import { startWorkflow } from "../../../functions/shared/start-workflow.ts";

Deno.serve(
  triggerHandler(
    edgeDeps(({ cfg, db }): TriggerDeps => {
      if (!cfg.webhookSecret) throw new Error("WEBHOOK_SECRET is not set for this function");
      return {
        secret: cfg.webhookSecret,
        now: () => new Date(),
        start: (runId, workflowId, req) =>
          db((c) =>
            startRun(
              c,
              (id, workflow, args) => startWorkflow(cfg, id, workflow, args),
              runId,
              workflowId,
              req,
            ),
          ),
      };
    }),
  ),
);
