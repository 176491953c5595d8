// Every workload the worker runs. A new workload is one import and one entry here.
import { imagesWorkload } from "./images/workload.ts";
import { importWorkload } from "./import/workload.ts";
import { ingestWorkload } from "./ingest/workload.ts";
import type { Workload } from "./workload.ts";

export const workloads: Workload[] = [importWorkload, imagesWorkload, ingestWorkload];
