// The import workload's registration with the worker: workflow "importJob", started by the
// import-webhook Edge Function with id `import/<job id>`; its steps read their dependencies from the
// worker's Resonate client.
import { localAccessFromEnv } from "../shared/local-mode.ts";
import type { Workload } from "../workload.ts";
import { loadImportConfig } from "./config.ts";
import { importRoute } from "./route.ts";
import type { ImportWorkflowDeps } from "./steps.ts";
import { importJob } from "./workflow.ts";

export const importWorkload: Workload = {
  route: importRoute,
  register(resonate, { pool, config, log }) {
    const cfg = loadImportConfig();
    const deps: ImportWorkflowDeps = {
      pool,
      log: log.child({ workload: "import" }),
      fileRoot: cfg.fileRoot,
      local: localAccessFromEnv(),
      asyncCommit: config.resonate.serverUrl === undefined,
      retry: { retries: cfg.batchRetries, delayMs: cfg.batchRetryDelayMs },
    };
    resonate.setDependency(importRoute.kind, deps);
    resonate.register(importRoute.workflow, importJob);
  },
};
