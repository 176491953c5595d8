// Workflow ids are matched exactly by retry_workflow, cancel_workflow, workflow_steps, the
// workflow_runs view and GET /runs/<id>: `%` and `_` are characters, not wildcards. The promises are
// created and settled through the store's own protocol entry point, so no worker is needed.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getRun } from "../../functions/operations/runs.ts";
import { FUNCTIONS_URL } from "../../scripts/stack/env.ts";
import { dropDatabase, freshDatabase } from "../support/db.ts";

const DB = "operations_exact_ids";
let pool: pg.Pool;
let requestId: string;

async function rpc(kind: string, data: Record<string, unknown>): Promise<number> {
  const { rows } = await pool.query<{ status: number }>(
    "select (app.rpc_call($1, $2::jsonb) -> 'head' ->> 'status')::int as status",
    [kind, JSON.stringify(data)],
  );
  return rows[0]!.status;
}

async function createPromise(id: string): Promise<void> {
  const param = {
    headers: {},
    data: Buffer.from(JSON.stringify({ func: "generateImages", args: [id] })).toString("base64"),
  };
  expect(await rpc("promise.create", { id, timeoutAt: Date.now() + 3_600_000, param, tags: {} })).toBe(200);
}

async function reject(id: string): Promise<void> {
  expect(await rpc("promise.settle", { id, state: "rejected", value: { headers: {}, data: "" } })).toBe(200);
}

const promiseIds = async () =>
  (await pool.query<{ id: string }>("select id from resonate.promises order by id")).rows.map((r) => r.id);

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: await freshDatabase(DB), max: 2 });
  requestId = (
    await pool.query<{ id: string }>(
      "insert into image_requests (prompt, status, error, started_at) values ('a kite', 'failed', 'boom', now()) returning id",
    )
  ).rows[0]!.id;
  // images/<id> failed, was retried once (failed too), and its second retry is running.
  await createPromise(`images/${requestId}`);
  await reject(`images/${requestId}`);
  await pool.query("select public.retry_workflow($1)", [`images/${requestId}`]);
  await reject(`images/${requestId}/retry-1`);
  await pool.query("select public.retry_workflow($1)", [`images/${requestId}`]);
  await createPromise(`images/${requestId}/retry-2:1`);
});
afterAll(async () => {
  await pool?.end();
  await dropDatabase(DB);
});

describe("workflow ids with % and _", () => {
  it("retry_workflow('%') starts nothing and says there is no such workflow", async () => {
    const before = await promiseIds();
    await expect(pool.query("select public.retry_workflow('%')")).rejects.toThrow(/^no workflow %$/);
    await expect(pool.query("select public.retry_workflow('images/%')")).rejects.toThrow(
      /^no workflow images\/%$/,
    );
    await expect(pool.query("select public.retry_workflow('_')")).rejects.toThrow(/^no workflow _$/);
    expect(await promiseIds()).toEqual(before);
  });

  it("cancel_workflow('images/%') cancels nothing", async () => {
    await expect(pool.query("select public.cancel_workflow('images/%')")).rejects.toThrow(
      /^no workflow images\/%$/,
    );
    const { rows } = await pool.query("select state from resonate.promises where id = $1", [
      `images/${requestId}/retry-2`,
    ]);
    expect(rows[0].state).toBe("pending");
  });

  it("a step's id is not a workflow: retrying it would start the step as a root", async () => {
    await expect(
      pool.query("select public.retry_workflow($1)", [`images/${requestId}/retry-2:1`]),
    ).rejects.toThrow(`no workflow images/${requestId}/retry-2:1`);
  });

  it("workflow_steps and the runs lookup match exactly", async () => {
    expect((await pool.query("select * from public.workflow_steps('images/%')")).rows).toEqual([]);
    expect(
      (await pool.query("select step_id from public.workflow_steps($1)", [`images/${requestId}/retry-2`]))
        .rows,
    ).toEqual([{ step_id: `images/${requestId}/retry-2:1` }]);
    expect(await getRun(pool, "%")).toBeUndefined();
    expect(await getRun(pool, "images/%")).toBeUndefined();
    expect(await getRun(pool, "images/%/retry-1")).toBeUndefined();
    expect(await getRun(pool, `images/${requestId}/retry-1`)).toMatchObject({
      workflow_id: `images/${requestId}/retry-2`,
      retries: 2,
    });
  });

  it("GET /runs/%25 answers 404", async () => {
    const res = await fetch(`${FUNCTIONS_URL}/runs/%25`, {
      headers: { authorization: `Bearer ${process.env.SUPABASE_SERVICE_ROLE_KEY}` },
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "no workflow %" });
  });
});
