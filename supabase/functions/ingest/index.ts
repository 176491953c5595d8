// POST /functions/v1/ingest (pg_cron nightly, or by hand): starts `crawlCorpus` as `ingest/<UTC date>` on
// the worker group and answers 202 with the workflow id at once. The same day rejoins the same run.
import pg from "pg";
import { CRAWL_WORKFLOW } from "../../../functions/ingest/run-id.ts";
import { type TriggerDeps, triggerHandler } from "../../../functions/ingest/trigger.ts";
import { loadConfig } from "../../../functions/shared/config.ts";
import { createResonate, toWorkers } from "../../../functions/shared/resonate-client.ts";

async function buildDeps(): Promise<TriggerDeps> {
  const cfg = loadConfig();
  if (!cfg.webhookSecret) throw new Error("WEBHOOK_SECRET is not set for this function");
  const pool = new pg.Pool({ connectionString: cfg.databaseUrl, max: 2 });
  // Group "edge": this process only starts runs and never takes the workers' tasks.
  const resonate = createResonate({ databaseUrl: cfg.databaseUrl, resonate: cfg.resonate, group: "edge" });
  const target = toWorkers(resonate, cfg.resonate.group);
  return {
    secret: cfg.webhookSecret,
    now: () => new Date(),
    async start(runId, workflowId, req) {
      const { rowCount } = await pool.query(
        "insert into public.ingest_runs (id, trigger, forced) values ($1, $2, $3) on conflict (id) do nothing",
        [runId, req.trigger, req.force],
      );
      await resonate.beginRpc(workflowId, CRAWL_WORKFLOW, runId, req.force, target);
      return { created: rowCount === 1 };
    },
  };
}

let deps: Promise<TriggerDeps> | undefined;

Deno.serve(
  triggerHandler(() => {
    deps ??= buildDeps().catch((err) => {
      deps = undefined;
      throw err;
    });
    return deps;
  }),
);
