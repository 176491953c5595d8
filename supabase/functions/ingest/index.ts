// POST /functions/v1/ingest (pg_cron nightly, or by hand): starts `crawlCorpus` as `ingest/<UTC date>` on
// the worker group and answers 202 with the workflow id at once. The same day rejoins the same run.
import { CRAWL_WORKFLOW } from "../../../functions/ingest/run-id.ts";
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
    async start(runId, workflowId, req) {
      const { rowCount } = await withConnection(edgeDatabaseUrl(cfg), (c) =>
        c.query(
          "insert into public.ingest_runs (id, trigger, forced) values ($1, $2, $3) on conflict (id) do nothing",
          [runId, req.trigger, req.force],
        ),
      );
      await startWorkflow(cfg, workflowId, CRAWL_WORKFLOW, [runId, req.force]);
      return { created: rowCount === 1 };
    },
  };
}

let deps: TriggerDeps | undefined;

Deno.serve(
  triggerHandler(async () => {
    deps ??= buildDeps();
    return deps;
  }),
);
