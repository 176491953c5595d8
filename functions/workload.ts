// What a workload gives the worker: its route (kind, workflow, table: functions/route.ts) and a function
// that registers its durable workflows and steps on the worker's Resonate client, the route's workflow
// among them. The worker knows nothing else about any workload.
import type { Resonate } from "@resonatehq/sdk";
import type pg from "pg";
import type { WorkloadRoute } from "./route.ts";
import type { AppConfig } from "./shared/config.ts";
import type { Logger } from "./shared/log.ts";

export interface WorkerDeps {
  pool: pg.Pool;
  config: AppConfig;
  log: Logger;
}

export interface Workload {
  route: WorkloadRoute;
  register(resonate: Resonate, deps: WorkerDeps): void;
}
