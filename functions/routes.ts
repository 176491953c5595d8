// Every workload, once: the list the runs endpoint and `npm run status` take their kinds from and the
// worker's registry (registry.ts) is checked against. The SQL that names workloads (a branch of the
// workflow_runs view, app.workflow_call, the cancel hooks app.workflow_canceled_<kind>) is checked against
// it by test/operations/registry.test.ts. docs/new-workload.md lists what a new workload adds.
import { imagesRoute } from "./images/route.ts";
import { importRoute } from "./import/route.ts";
import { ingestRoute } from "./ingest/route.ts";
import type { WorkloadRoute } from "./route.ts";

export const routes: readonly WorkloadRoute[] = [importRoute, imagesRoute, ingestRoute];

export const KINDS: readonly string[] = routes.map((r) => r.kind);
