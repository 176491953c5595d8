// The two clients the durable tests compare on the same `resonate` schema: the SDK on our StoreNetwork
// (functions/shared/store/), and the SDK on its own PostgresNetwork, the reference client.
import { Resonate } from "@resonatehq/sdk";
import { PostgresNetwork } from "@resonatehq/sdk/postgres";
import { createResonate } from "../../../functions/shared/resonate-client.ts";

export const NETWORKS = ["our StoreNetwork", "the SDK's PostgresNetwork"] as const;
export type NetworkName = (typeof NETWORKS)[number];

/** A Resonate client on `network`, in `group` under `pid`, with a 10 s lease and a 100 ms tick. */
export function resonateOn(network: NetworkName, url: string, group: string, pid: string): Resonate {
  return network === "our StoreNetwork"
    ? createResonate({
        databaseUrl: url,
        group,
        pid,
        resonate: { serverUrl: undefined, group, ttlMs: 10_000, tickMs: 100 },
      })
    : new Resonate({
        network: new PostgresNetwork({ connectionString: url, group, pid, tickMs: 100 }),
        group,
        pid,
        ttl: 10_000,
      });
}
