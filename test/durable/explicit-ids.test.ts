// A local step with an explicit id (options carrying an id) is one promise however many workflows run it,
// and so are the steps it runs: the store answers each from the first workflow that created it. Through
// our adapter and through the SDK's PostgresNetwork alike, a step already done is not run again.
import type { Context, Resonate } from "@resonatehq/sdk";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropDatabase, freshDatabase } from "../support/db.ts";
import { NETWORKS, resonateOn } from "../support/durable/networks.ts";
import { eventually } from "../support/http-server.ts";

const DB = "durable_explicit_ids";
let url: string;
let pool: pg.Pool;
const clients = new Map<string, Resonate>();
const runs = new Map<string, number>();
const uid = () => Math.random().toString(36).slice(2, 10);

async function charge(_ctx: Context, key: string): Promise<string> {
  runs.set(key, (runs.get(key) ?? 0) + 1);
  return `charged ${key}`;
}

/** Charges once per key, then waits for a confirmation: the step stays pending until it comes. */
function* chargeAndConfirm(ctx: Context, key: string): Generator<unknown, string, unknown> {
  const receipt = (yield* ctx.run(charge, key)) as string;
  const confirmed = ctx.promise<string>();
  return `${receipt}, ${yield* yield* confirmed}`;
}

function* order(ctx: Context, key: string): Generator<unknown, string, unknown> {
  // The SDK's types leave `id` out of ctx.options, but the SDK honours an id on the options it is given.
  const shared = { ...ctx.options(), id: `charge-${key}` };
  return (yield* ctx.run(chargeAndConfirm, key, shared)) as string;
}

async function taskState(id: string): Promise<string | undefined> {
  const { rows } = await pool.query<{ state: string }>("select state from resonate.tasks where id = $1", [
    id,
  ]);
  return rows[0]?.state;
}

beforeAll(async () => {
  url = await freshDatabase(DB);
  pool = new pg.Pool({ connectionString: url, max: 4 });
  for (const name of NETWORKS) {
    const group = `explicit-ids-${clients.size}`;
    const pid = `explicit-ids-${process.pid}-${clients.size}`;
    const resonate = resonateOn(name, url, group, pid);
    resonate.register("order", order);
    clients.set(name, resonate);
  }
});

afterAll(async () => {
  for (const resonate of clients.values()) await resonate.stop();
  await pool?.end();
  await dropDatabase(DB);
});

describe.each(NETWORKS)("an explicit-id step shared by two workflows, on %s", (name) => {
  it("runs a step nested in it once, although the second workflow runs the shared step again", async () => {
    const resonate = clients.get(name)!;
    const key = uid();
    const first = await resonate.beginRun(`order-a-${key}`, "order", key);
    await eventually("the first workflow suspended", async () =>
      (await taskState(`order-a-${key}`)) === "suspended" ? true : undefined,
    );
    // The shared step is still pending (it waits for its confirmation), so the second workflow runs its
    // function too; the charge inside it is done and must come back from the store, not run again.
    const second = await resonate.beginRun(`order-b-${key}`, "order", key);
    await eventually("the second workflow suspended", async () =>
      (await taskState(`order-b-${key}`)) === "suspended" ? true : undefined,
    );
    expect(runs.get(key)).toBe(1);
    await resonate.promises.resolve(`charge-${key}:1`, {
      data: Buffer.from(JSON.stringify("confirmed")).toString("base64"),
    });
    expect(await first.result()).toBe(`charged ${key}, confirmed`);
    expect(await second.result()).toBe(`charged ${key}, confirmed`);
    expect(runs.get(key)).toBe(1);
  });
});
