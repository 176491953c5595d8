// What identifies a workload's runs everywhere: the kind its workflow ids start with (`<kind>/<row id>`),
// the workflow its rows start, and the table those rows live in. Each workload's route.ts owns its
// route; functions/routes.ts lists them all.
export interface WorkloadRoute {
  /** Workflow id prefix: ids are `<kind>/<row id>`, and workflow_runs shows it as the run's kind. */
  kind: string;
  /** Name the root workflow is registered under on the workers. */
  workflow: string;
  /** Table whose rows are the workload's runs, as `schema.table`. */
  table: string;
}
