// Starts a workflow on the worker group from a process that only starts workflows (an Edge Function):
// the SDK's own beginRpc builds the request, so ids, tags and encoding are exactly what a worker
// expects, and the client is stopped before this returns, leaving no interval or connection behind.
// Duplicate starts of one id are one workflow: the durable store answers them with the same promise.
import { Resonate } from "@resonatehq/sdk";
import type { AppConfig } from "./config.ts";
import { edgeDatabaseUrl } from "./edge-db.ts";
import { createResonate, toWorkers } from "./resonate-client.ts";
import { StartOnlyNetwork } from "./start-network.ts";

/** The group a starting process joins, so it never receives the workers' tasks. */
export const STARTER_GROUP = "edge";

export async function startWorkflow(
  cfg: AppConfig,
  id: string,
  workflow: string,
  args: unknown[],
): Promise<void> {
  const resonate = cfg.resonate.serverUrl
    ? createResonate({ databaseUrl: cfg.databaseUrl, resonate: cfg.resonate, group: STARTER_GROUP })
    : new Resonate({
        network: new StartOnlyNetwork(edgeDatabaseUrl(cfg), STARTER_GROUP),
        group: STARTER_GROUP,
      });
  try {
    await resonate.beginRpc(id, workflow, ...args, toWorkers(resonate, cfg.resonate.group));
  } finally {
    await resonate.stop();
  }
}
