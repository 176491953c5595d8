// The ingest workload's registration with the worker: `crawlCorpus`, started as `ingest/<run id>` by the
// `ingest` Edge Function (nightly via pg_cron, or by hand).
import type { Workload } from "../workload.ts";
import { embeddingsConfigFromEnv } from "./embeddings.ts";
import { createIndexer, maxChunksPerPageFromEnv } from "./indexer.ts";
import { ingestRoute } from "./route.ts";
import { ingestWorkflows } from "./workflow.ts";

export const ingestWorkload: Workload = {
  route: ingestRoute,
  register(resonate, { pool, log }) {
    // Threads start with the first index pass, not with the worker.
    const indexer = createIndexer(embeddingsConfigFromEnv(), { maxChunksPerPage: maxChunksPerPageFromEnv() });
    const wf = ingestWorkflows({ pool, indexer, log: log.child({ workload: "ingest" }) });
    resonate.register(ingestRoute.workflow, wf.crawlCorpus);
  },
};
