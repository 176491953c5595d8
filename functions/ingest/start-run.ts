// What the ingest Edge Function does for a trigger: start the run's workflow, then record who
// triggered it. In that order, a trigger that dies halfway (the pooler or the function killed between
// the two) leaves either nothing, for the next trigger to start, or a workflow whose first step writes
// the run's row itself; the other order could leave a `queued` row no workflow would ever pick up.
// A day whose run finished and whose row was deleted since (runs cannot be deleted while they run) is
// not started again: the durable store answers a start of a finished workflow with its old result, so
// nothing would run and the new row would stay `queued` for ever.
import type pg from "pg";
import { ingestRoute } from "./route.ts";
import type { TriggerRequest } from "./trigger.ts";

type Queryable = Pick<pg.ClientBase, "query">;

/** Whether the run's row was new, or the finished workflow a deleted run's id still names. */
export type StartOutcome = { created: boolean } | { finished: { workflowId: string; state: string } };

export type StartWorkflow = (id: string, workflow: string, args: unknown[]) => Promise<void>;

export async function startRun(
  db: Queryable,
  start: StartWorkflow,
  runId: string,
  workflowId: string,
  req: TriggerRequest,
): Promise<StartOutcome> {
  const before = await db.query("select 1 from public.ingest_runs where id = $1", [runId]);
  if (before.rowCount === 0) {
    const { rows } = await db.query<{ id: string; state: string }>(
      "select p.id, p.state from app.workflow_attempts($1) p order by p.created_at desc limit 1",
      [workflowId],
    );
    const last = rows[0];
    if (last && last.state !== "pending") return { finished: { workflowId: last.id, state: last.state } };
  }
  await start(workflowId, ingestRoute.workflow, [runId, req.force, req.trigger]);
  // The label, unless the workflow's first step already wrote the row (with the same label).
  await db.query(
    "insert into public.ingest_runs (id, trigger, forced) values ($1, $2, $3) on conflict (id) do nothing",
    [runId, req.trigger, req.force],
  );
  return { created: before.rowCount === 0 };
}
