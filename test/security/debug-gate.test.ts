// The durable store's debug requests (debug.reset truncates the store, debug.tick moves time) and a
// pinned clock (head["resonate:debug_time"]) need membership in resonate_debugger, which only test
// harnesses grant themselves; a session setting alone reaches nothing. service_role, whose key a
// backend holds and which may call resonate_rpc, gets 403 whatever it sets, and may run the timer pass
// only on the database clock (process_timeouts(), not process_timeouts(now)).
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropDatabase, freshDatabase } from "../support/db.ts";

const DB = "security_debug_gate";
let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client({ connectionString: await freshDatabase(DB) });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await dropDatabase(DB);
});

async function asServiceRole(kind: string, data: unknown, head: Record<string, unknown> = {}) {
  await client.query("begin");
  try {
    await client.query("set local role service_role");
    await client.query("set local resonate.debug_time = on");
    const { rows } = await client.query("select resonate.resonate_rpc($1::jsonb) as res", [
      JSON.stringify({ kind, head: { corrId: "c", version: "v", ...head }, data }),
    ]);
    return rows[0].res;
  } finally {
    await client.query("rollback");
  }
}

describe("the debug gate", () => {
  it("refuses service_role's debug requests with 403 even after set resonate.debug_time = on", async () => {
    await client.query(
      "select app.rpc_call('promise.create', jsonb_build_object('id', 'keep-me', 'timeoutAt', 9999999999999))",
    );
    for (const kind of ["debug.reset", "debug.tick", "debug.snap"]) {
      expect(await asServiceRole(kind, kind === "debug.tick" ? { time: 9_999_999_999_999 } : {})).toEqual({
        kind,
        head: { corrId: "c", status: 403, version: "v" },
        data: "debug requests are for test harnesses: the calling role needs membership in resonate_debugger",
      });
    }
    const { rows } = await client.query("select state from resonate.promises where id = 'keep-me'");
    expect(rows).toEqual([{ state: "pending" }]);
  });

  it("refuses service_role the timer pass at a time it chooses", async () => {
    await client.query(
      "select app.rpc_call('promise.create', jsonb_build_object('id', 'keep-me-too', 'timeoutAt', 9999999999999))",
    );
    await client.query("begin");
    try {
      await client.query("set local role service_role");
      await expect(client.query("select resonate.process_timeouts(9999999999999)")).rejects.toThrow(
        /permission denied for function process_timeouts/,
      );
    } finally {
      await client.query("rollback");
    }
    const { rows } = await client.query("select state from resonate.promises where id = 'keep-me-too'");
    expect(rows).toEqual([{ state: "pending" }]);
  });

  it("ignores service_role's pinned clock", async () => {
    const before = Date.now();
    const res = await asServiceRole(
      "promise.create",
      { id: "clock", timeoutAt: before + 60_000 },
      { "resonate:debug_time": 1000 },
    );
    expect(res.head.status).toBe(200);
    expect(res.data.promise.createdAt).toBeGreaterThanOrEqual(before - 1000);
  });
});
