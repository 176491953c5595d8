// A Resonate Network for processes that only start workflows, such as an Edge Function answering a
// webhook. The SDK's PostgresNetwork is built for workers: a pool of eight, a LISTEN connection and a
// 250 ms polling loop, all of which outlive the request that needed one `promise.create`. This one
// sends each request as a single call of resonate.resonate_rpc on the isolate's one connection (see
// edge-db.ts) and never receives messages: no pool, LISTEN or timer of it outlives the answer.
import { randomUUID } from "node:crypto";
import type { Network, Request, Response } from "@resonatehq/sdk";
import { withConnection } from "./edge-db.ts";

export class StartOnlyNetwork implements Network {
  readonly unicast: string;
  readonly anycast: string;
  private readonly connectionString: string;

  constructor(connectionString: string, group: string, pid = randomUUID().replaceAll("-", "")) {
    this.connectionString = connectionString;
    // The same address shapes as PostgresNetwork, so targets resolve identically.
    this.unicast = `poll://uni@${group}/${pid}`;
    this.anycast = `poll://any@${group}`;
  }

  match(target: string): string {
    return `poll://any@${target}`;
  }

  async init(): Promise<void> {}

  async stop(): Promise<void> {}

  recv(): void {}

  // An arrow property: the SDK calls `send` detached from the network object.
  send = ((req: Request): Promise<Response> =>
    withConnection(this.connectionString, async (c) => {
      const { rows } = await c.query<{ res: Response }>("select resonate.resonate_rpc($1::jsonb) as res", [
        JSON.stringify(req),
      ]);
      return rows[0]!.res;
    })) as Network["send"];
}
