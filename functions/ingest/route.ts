// The ingest workload's runs: rows of public.ingest_runs, each the workflow `crawlCorpus` with id
// `ingest/<run id>`, started by the `ingest` Edge Function (nightly via pg_cron, or by hand) rather than
// by an insert.
import type { WorkloadRoute } from "../route.ts";

export const ingestRoute: WorkloadRoute = {
  kind: "ingest",
  workflow: "crawlCorpus",
  table: "public.ingest_runs",
};
