// The import workload's registration with the worker.
import type { Workload } from "../workload.ts";

export const importWorkload: Workload = {
  name: "import",
  register() {},
};
