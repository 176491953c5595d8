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
});
