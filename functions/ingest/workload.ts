// The ingest workload's registration with the worker.
import type { Workload } from "../workload.ts";

export const ingestWorkload: Workload = {
  name: "ingest",
  register() {},
};
