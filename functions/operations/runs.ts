// Reading runs for people and programs: the one query behind the `runs` Edge Function and the
// `npm run status` CLI, over the workflow_runs view.
import type pg from "pg";
import { KINDS } from "../routes.ts";

export { KINDS };
export const STATUSES = [
  "queued",
  "staging",
  "importing",
  "running",
  "crawling",
  "indexing",
  "succeeded",
  "partially_succeeded",
  "failed",
  "canceled",
] as const;

export interface WorkflowRun {
  workflow_id: string;
  kind: string;
  row_id: string;
  status: string;
  durable_state: string | null;
  done: number | null;
  total: number | null;
  unit: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number;
  attempts: number;
  retries: number;
  last_error: string | null;
}

export interface RunFilter {
  kind?: string;
  status?: string;
  limit?: number;
}

const COLUMNS = `workflow_id, kind, row_id, status, durable_state, done, total, unit,
  created_at, started_at, finished_at, (extract(epoch from duration) * 1000)::int as duration_ms,
  attempts, retries, last_error`;

/** The run of `<kind>/<row id>` or of one of its retries, matched exactly (an id is not a pattern). */
export async function getRun(db: pg.Pool | pg.Client, workflowId: string): Promise<WorkflowRun | undefined> {
  const base = workflowId.replace(/\/retry-\d+$/, "");
  const { rows } = await db.query<WorkflowRun>(
    `select ${COLUMNS} from public.workflow_runs where kind || '/' || row_id = $1`,
    [base],
  );
  return rows[0];
}

export async function listRuns(db: pg.Pool | pg.Client, filter: RunFilter = {}): Promise<WorkflowRun[]> {
  const { rows } = await db.query<WorkflowRun>(
    `select ${COLUMNS} from public.workflow_runs
      where ($1::text is null or kind = $1) and ($2::text is null or status = $2)
      order by created_at desc limit $3`,
    [filter.kind ?? null, filter.status ?? null, filter.limit ?? 20],
  );
  return rows;
}

export function parseFilter(args: {
  kind?: string | null;
  status?: string | null;
  limit?: string | null;
}): { ok: true; value: RunFilter } | { ok: false; error: string } {
  const f: RunFilter = {};
  if (args.kind) {
    if (!KINDS.includes(args.kind)) return { ok: false, error: `kind must be one of ${KINDS.join(", ")}` };
    f.kind = args.kind;
  }
  if (args.status) {
    if (!(STATUSES as readonly string[]).includes(args.status)) {
      return { ok: false, error: `status must be one of ${STATUSES.join(", ")}` };
    }
    f.status = args.status;
  }
  if (args.limit) {
    const n = Number(args.limit);
    if (!Number.isInteger(n) || n < 1 || n > 500)
      return { ok: false, error: "limit must be an integer from 1 to 500" };
    f.limit = n;
  }
  return { ok: true, value: f };
}
