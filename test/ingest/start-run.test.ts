// The ingest trigger starts the run's workflow before it records the run's row: a trigger that dies
// between the two (the soak's pooler kill) must not leave a `queued` row no workflow will pick up.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRun } from "../../functions/ingest/start-run.ts";
import { dropDatabase, freshDatabase } from "../support/db.ts";

const DB = "ingest_start_run_test";
let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client({ connectionString: await freshDatabase(DB) });
  await client.connect();
});
afterAll(async () => {
  await client.end();
  await dropDatabase(DB);
});

const run = (id: string) =>
  client
    .query("select status, trigger, forced from public.ingest_runs where id = $1", [id])
    .then((r) => r.rows);

describe("startRun", () => {
  it("records nothing when the workflow could not be started", async () => {
    const failing = async () => {
      throw new Error("connect ECONNREFUSED 127.0.0.1:54329");
    };
    await expect(
      startRun(client, failing, "r-fail", "ingest/r-fail", { force: true, trigger: "manual-test" }),
    ).rejects.toThrow(/ECONNREFUSED/);
    expect(await run("r-fail")).toEqual([]);
  });

  it("starts the workflow first, with the trigger label, then records the row", async () => {
    const calls: { rowsAtStart: number; args: unknown[] }[] = [];
    const start = async (_id: string, _workflow: string, args: unknown[]) => {
      calls.push({ rowsAtStart: (await run("r-ok")).length, args });
    };
    const req = { force: true, trigger: "nightly-test" };
    expect(await startRun(client, start, "r-ok", "ingest/r-ok", req)).toEqual({ created: true });
    expect(calls).toEqual([{ rowsAtStart: 0, args: ["r-ok", true, "nightly-test"] }]);
    expect(await run("r-ok")).toEqual([{ status: "queued", trigger: "nightly-test", forced: true }]);
    expect(await startRun(client, start, "r-ok", "ingest/r-ok", req)).toEqual({ created: false });
  });

  it("does not start again a day whose run finished and whose row was deleted: nothing would run", async () => {
    // What resonate.gc and a finished run leave: the workflow's attempts, settled, and (after a delete) no row.
    await client.query(
      `insert into resonate.promises (id, state, timeout_at, created_at, settled_at)
       values ('ingest/r-done', 'resolved', 0, 1, 2), ('ingest/r-done/retry-1', 'rejected', 0, 3, 4),
              ('ingest/r-live', 'pending', 9000000000000, 1, null)`,
    );
    const started: string[] = [];
    const start = async (id: string) => {
      started.push(id);
    };
    const req = { force: false, trigger: "nightly-test" };
    expect(await startRun(client, start, "r-done", "ingest/r-done", req)).toEqual({
      finished: { workflowId: "ingest/r-done/retry-1", state: "rejected" },
    });
    expect(await run("r-done")).toEqual([]);
    // A run still pending is rejoined as before (its row is written by whichever side comes first).
    expect(await startRun(client, start, "r-live", "ingest/r-live", req)).toEqual({ created: true });
    expect(started).toEqual(["ingest/r-live"]);
    expect(await run("r-live")).toEqual([{ status: "queued", trigger: "nightly-test", forced: false }]);
  });
});
