// The import workload's registration with the worker: workflow "importJob", started by the
// import-webhook Edge Function with id `import/<job id>`.
import { localAccessFromEnv } from "../shared/local-mode.ts";
import type { Workload } from "../workload.ts";
import { importRoute } from "./route.ts";
import { importWorkflow } from "./workflow.ts";

export const importWorkload: Workload = {
  route: importRoute,
  register(resonate, { pool, config, log }) {
    const workflow = importWorkflow(
      {
        pool,
        log: log.child({ workload: "import" }),
        fileRoot: config.import.fileRoot,
        local: localAccessFromEnv(),
        asyncCommit: config.resonate.serverUrl === undefined,
      },
      { retries: config.import.batchRetries, delayMs: config.import.batchRetryDelayMs },
    );
    resonate.register(importRoute.workflow, workflow);
  },
};
