// Starting a workflow from an Edge Function: one resonate_rpc call on the isolate's one connection,
// through the transaction pooler, leaving no timer behind, and creating exactly the promise the SDK's
// own client creates, so workers cannot tell the difference.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppConfig, loadConfig } from "../../functions/shared/config.ts";
import { closeConnections } from "../../functions/shared/edge-db.ts";
import { createResonate, toWorkers } from "../../functions/shared/resonate-client.ts";
import { startWorkflow } from "../../functions/shared/start-workflow.ts";
import { POOLER_URL } from "../../scripts/stack/pooler.ts";
import { dropDatabase, freshDatabase, withAdmin, withClient } from "../support/db.ts";

const DB = "edge_starts_test";
let url: string;
let cfg: AppConfig;

beforeAll(async () => {
  url = await freshDatabase(DB);
  const pooled = new URL(POOLER_URL);
  pooled.pathname = `/${DB}`;
  cfg = { ...loadConfig(), databaseUrl: url, poolerUrl: pooled.toString() };
});
afterAll(async () => {
  await closeConnections();
  await dropDatabase(DB);
});

const promise = (id: string) =>
  withClient(async (c) => {
    const { rows } = await c.query<{ param: unknown; tags: Record<string, string>; state: string }>(
      "select param, tags, state from resonate.promises where id = $1",
      [id],
    );
    return rows;
  }, url);

const handles = () => {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return { timers: counts.get("Timeout") ?? 0, sockets: counts.get("TCPSocketWrap") ?? 0 };
};

describe("startWorkflow", () => {
  it("creates the same promise as the SDK's beginRpc, with the task for the worker group", async () => {
    const sdk = createResonate({ databaseUrl: url, resonate: cfg.resonate, group: "edge" });
    try {
      await sdk.beginRpc("edge/sdk", "someWorkflow", "a", 2, toWorkers(sdk, cfg.resonate.group));
    } finally {
      await sdk.stop();
    }
    await startWorkflow(cfg, "edge/ours", "someWorkflow", ["a", 2]);
    const [theirs] = await promise("edge/sdk");
    const [ours] = await promise("edge/ours");
    const own = (id: string) => ({ "resonate:origin": id, "resonate:branch": id, "resonate:parent": id });
    expect(ours!.param).toEqual(theirs!.param);
    expect(ours!.tags).toEqual({ ...theirs!.tags, ...own("edge/ours") });
    expect(ours!.tags["resonate:target"]).toBe("poll://any@workers");
    const tasks = await withClient(
      (c) => c.query<{ state: string }>("select state from resonate.tasks where id = 'edge/ours'"),
      url,
    );
    expect(tasks.rows).toEqual([{ state: "pending" }]);
  });

  it("starts one workflow for ten concurrent duplicate starts", async () => {
    await Promise.all(Array.from({ length: 10 }, () => startWorkflow(cfg, "edge/dup", "someWorkflow", [1])));
    expect(await promise("edge/dup")).toHaveLength(1);
  });

  it("leaves no timer behind, and one connection however many starts ran at once", async () => {
    await closeConnections();
    const before = handles();
    await Promise.all(Array.from({ length: 20 }, (_, i) => startWorkflow(cfg, `edge/clean-${i}`, "w", [i])));
    // Closed sockets leave the handle list on the next turn of the event loop.
    await new Promise((r) => setImmediate(r));
    // Timers of earlier tests may expire meanwhile, so "none added" is "no more than before".
    const after = handles();
    expect(after.timers).toBeLessThanOrEqual(before.timers);
    expect(after.sockets).toBe(before.sockets + 1);
    await closeConnections();
    await new Promise((r) => setImmediate(r));
    expect(handles().sockets).toBe(before.sockets);
  });

  it("recovers when the pooler drops its connection between requests", async () => {
    await startWorkflow(cfg, "edge/before-drop", "w", []);
    // What a pooler or database restart does to an idle client: its server end goes away.
    await withAdmin((c) =>
      c.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
        [DB],
      ),
    );
    await startWorkflow(cfg, "edge/after-drop", "w", []);
    expect(await promise("edge/after-drop")).toHaveLength(1);
  });
});
