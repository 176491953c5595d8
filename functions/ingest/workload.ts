// The ingest workload's registration with the worker: `crawlCorpus`, started as `ingest/<run id>` by the
// `ingest` Edge Function (nightly via pg_cron, or by hand); its steps read their dependencies from the
// worker's Resonate client.
import type { Workload } from "../workload.ts";
import { loadIngestConfig } from "./config.ts";
import { createIndexer } from "./indexer.ts";
import { ingestRoute } from "./route.ts";
import type { IngestDeps } from "./steps.ts";
import { crawlCorpus } from "./workflow.ts";

export const ingestWorkload: Workload = {
  route: ingestRoute,
  register(resonate, { pool, log }) {
    // Threads start with the first index pass, not with the worker.
    const cfg = loadIngestConfig();
    const indexer = createIndexer(cfg.embeddings, { maxChunksPerPage: cfg.maxChunksPerPage });
    const deps: IngestDeps = { pool, indexer, log: log.child({ workload: "ingest" }) };
    resonate.setDependency(ingestRoute.kind, deps);
    resonate.register(ingestRoute.workflow, crawlCorpus);
  },
};
