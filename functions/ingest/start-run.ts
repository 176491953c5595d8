// What the ingest Edge Function does for a trigger: start the run's workflow, then record who
// triggered it. In that order, a trigger that dies halfway (the pooler or the function killed between
// the two) leaves either nothing, for the next trigger to start, or a workflow whose first step writes
// the run's row itself; the other order could leave a `queued` row no workflow would ever pick up.
import type pg from "pg";
import { ingestRoute } from "./route.ts";
import type { TriggerRequest } from "./trigger.ts";

type Queryable = Pick<pg.ClientBase, "query">;

export type StartWorkflow = (id: string, workflow: string, args: unknown[]) => Promise<void>;

export async function startRun(
  db: Queryable,
  start: StartWorkflow,
  runId: string,
  workflowId: string,
  req: TriggerRequest,
): Promise<{ created: boolean }> {
  const before = await db.query("select 1 from public.ingest_runs where id = $1", [runId]);
  await start(workflowId, ingestRoute.workflow, [runId, req.force, req.trigger]);
  // The label, unless the workflow's first step already wrote the row (with the same label).
  await db.query(
    "insert into public.ingest_runs (id, trigger, forced) values ($1, $2, $3) on conflict (id) do nothing",
    [runId, req.trigger, req.force],
  );
  return { created: before.rowCount === 0 };
}
