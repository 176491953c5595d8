// The system under test reached through our Network adapter instead of one resonate_rpc call per
// request: every request travels inside a resonate_batch call, between two read-only probes sent in
// the same call, so each answer proves a batched request is answered exactly as if sent alone. Step
// creates are not deferred here: answering a create before the store has seen it moves a refused
// fence from the create to the step's result by design, which a request-level comparison would
// report (steps.ts and test/durable/store-network.test.ts cover that path). Nor is a release that
// follows an acquire at once answered here, as it is for the SDK (test/durable/unrunnable-task.test.ts).
import type { Request, Response } from "@resonatehq/sdk";
import type pg from "pg";
import { StoreNetwork } from "../../../../functions/shared/store/network.ts";
import type { Json } from "./generator.ts";
import { SchemaClient } from "./runner.ts";

export class AdapterClient extends SchemaClient {
  private readonly network: StoreNetwork;

  private constructor(client: pg.Client, network: StoreNetwork) {
    super(client);
    this.network = network;
  }

  static async through(client: pg.Client, url: string): Promise<AdapterClient> {
    // As SchemaClient.open: the setting counts only for members of resonate_debugger.
    await client.query("grant resonate_debugger to current_user");
    await client.query("set resonate.debug_time = on");
    const debugUrl = new URL(url);
    debugUrl.searchParams.set("options", "-c resonate.debug_time=on");
    // One connection, so while one call is in flight everything sent meanwhile goes in the next.
    const network = new StoreNetwork({
      connectionString: debugUrl.toString(),
      group: "differential",
      connections: 1,
      deferSteps: false,
      leaveUnstartedToLease: false,
    });
    return new AdapterClient(client, network);
  }

  override async rpc(req: Json, now: number): Promise<Json> {
    const send = (r: Json) => this.network.send(r as Request) as Promise<Response>;
    const probe = (corrId: string) =>
      send({ kind: "promise.get", head: { corrId, version: "v" }, data: { id: "(probe)" } });
    // Occupies the connection, so the three requests below queue up and leave together.
    const blocker = send({
      kind: "task.heartbeat",
      head: { corrId: "blocker", version: "v" },
      data: { pid: "-", tasks: [] },
    });
    const [before, res, after] = await Promise.all([
      probe("before"),
      send({ ...req, head: { ...req.head, "resonate:debug_time": now } }),
      probe("after"),
      blocker,
    ]);
    for (const p of [before, after])
      if (p.head.status !== 404)
        throw new Error(`a probe traveling with the request was answered ${JSON.stringify(p)}`);
    return res;
  }

  /** Calls of resonate_batch and the requests they carried. */
  stats() {
    return this.network.stats();
  }

  close(): Promise<void> {
    return this.network.stop();
  }
}
