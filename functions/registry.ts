// Every workload the worker runs: one per route in routes.ts (test/operations/registry.test.ts checks
// it). docs/new-workload.md lists what a new workload adds.
import { imagesWorkload } from "./images/workload.ts";
import { importWorkload } from "./import/workload.ts";
import { ingestWorkload } from "./ingest/workload.ts";
import type { Workload } from "./workload.ts";

export const workloads: Workload[] = [importWorkload, imagesWorkload, ingestWorkload];
