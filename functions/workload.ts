// What a workload gives the worker: a name and a function that registers its durable workflows and
// steps on the worker's Resonate client. The worker knows nothing else about any workload.
import type { Resonate } from "@resonatehq/sdk";
import type pg from "pg";
import type { AppConfig } from "./shared/config.ts";
import type { Logger } from "./shared/log.ts";

export interface WorkerDeps {
  pool: pg.Pool;
  config: AppConfig;
  log: Logger;
}

export interface Workload {
  name: string;
  register(resonate: Resonate, deps: WorkerDeps): void;
}
