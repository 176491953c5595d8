// A task the SDK acquires and then cannot run, with the real SDK on our Network adapter
// (functions/shared/store/) against a database of its own. The SDK 0.11.5 decodes the task's promise
// right after its acquire is answered 200, before its heartbeat, its execution and the try that
// releases on error (core.js, Core.onMessage), so a promise its codec cannot decode ends the
// execution without a fulfill, suspend or release: the adapter must not count it as running (a
// concurrency slot held for ever, a drain waiting out its grace for it). A function the worker has not
// registered fails inside that try, and the SDK releases the task, which the store offers again at
// once. Either way the task must neither stay acquired for ever nor be taken again in a loop.
import type { Context, Resonate } from "@resonatehq/sdk";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Client, createClient, createResonate } from "../../functions/shared/resonate-client.ts";
import { dropDatabase, freshDatabase } from "../support/db.ts";
import { eventually } from "../support/http-server.ts";

const DB = "durable_unrunnable_task";
let url: string;
let pool: pg.Pool;
let starter: Resonate;
const clients: Client[] = [];
const uid = () => Math.random().toString(36).slice(2, 10);

/** A worker in a group of its own that runs at most one execute message at a time. */
async function worker(group: string, ttlMs: number): Promise<Client> {
  const client = createClient({
    databaseUrl: url,
    group,
    concurrency: 1,
    resonate: { serverUrl: undefined, group, ttlMs, tickMs: 100 },
  });
  clients.push(client);
  client.resonate.register("echo", (_ctx: Context, x: number) => x);
  await eventually("the worker's store session", async () => (client.store!.ready ? true : undefined));
  return client;
}

/** A workflow promise for `group` whose param is not the SDK's encoding (base64 of JSON). */
async function undecodable(group: string): Promise<string> {
  const id = `undecodable-${uid()}`;
  await starter.promises.create(id, Date.now() + 3_600_000, {
    data: "this is not base64 of JSON",
    tags: { "resonate:target": `poll://any@${group}`, "resonate:scope": "global" },
  });
  return id;
}

async function task(id: string): Promise<{ state: string; version: number } | undefined> {
  const { rows } = await pool.query<{ state: string; version: number }>(
    "select state, version from resonate.tasks where id = $1",
    [id],
  );
  return rows[0];
}

const acquired = (id: string, version: number) =>
  eventually(`${id} acquired at version ${version}`, async () => {
    const t = await task(id);
    return t?.state === "acquired" && t.version >= version ? t : undefined;
  });

const state = async (id: string) =>
  (await pool.query<{ state: string }>("select state from resonate.promises where id = $1", [id])).rows[0]
    ?.state;

beforeAll(async () => {
  url = await freshDatabase(DB);
  pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on("error", () => {});
  starter = createResonate({
    databaseUrl: url,
    group: "unrunnable-starter",
    resonate: { serverUrl: undefined, group: "unrunnable-starter", ttlMs: 60_000, tickMs: 100 },
  });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.resonate.stop()));
  await starter?.stop();
  await pool?.end();
  await dropDatabase(DB);
});

describe("a task whose promise the SDK cannot decode", () => {
  it("frees its concurrency slot: the next task runs on a worker capped at one", async () => {
    const group = `slot-${uid()}`;
    const w = await worker(group, 60_000);
    const bad = await undecodable(group);
    await acquired(bad, 1);
    const good = `good-${uid()}`;
    await starter.beginRpc(good, "echo", 7, starter.options({ target: group }));
    await eventually("the next task to run", async () =>
      (await state(good)) === "resolved" ? true : undefined,
    );
    expect(w.gauge.active()).toBe(0);
  });

  it("is not waited for by a graceful drain", async () => {
    const group = `drain-${uid()}`;
    const w = await worker(group, 60_000);
    const bad = await undecodable(group);
    await acquired(bad, 1);
    const t0 = Date.now();
    await w.store!.drain(20_000);
    // Far below the 20 s grace; the drain waits in 50 ms polls.
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it("is left to its lease: not taken again before it lapses, offered again once it has", async () => {
    const group = `lease-${uid()}`;
    const ttl = 3_000;
    await worker(group, ttl);
    const bad = await undecodable(group);
    const t0 = Date.now();
    await acquired(bad, 1);
    // Within the lease nobody takes it again: no release, so no immediate re-dispatch to spin on.
    await new Promise((r) => setTimeout(r, ttl / 3));
    expect(await task(bad)).toEqual({ state: "acquired", version: 1 });
    // After the lease the store offers it again, and the worker (whose one slot is free) takes it.
    await acquired(bad, 2);
    await new Promise((r) => setTimeout(r, ttl));
    // About one attempt per lease: far from a loop (a release-driven spin reaches hundreds in a second).
    const elapsed = Date.now() - t0;
    expect((await task(bad))!.version).toBeLessThanOrEqual(Math.ceil(elapsed / ttl) + 1);
  });
});

describe("a task whose function the worker has not registered", () => {
  it("is left to its lease instead of released, so it is not taken again in a loop; the slot is free meanwhile", async () => {
    const group = `unregistered-${uid()}`;
    const ttl = 3_000;
    await worker(group, ttl);
    const bad = `unregistered-${uid()}`;
    await starter.beginRpc(bad, "notRegisteredHere", 1, starter.options({ target: group }));
    const t0 = Date.now();
    await acquired(bad, 1);
    // The SDK's release, sent at once, would have the store offer it again at once: dozens of
    // acquisitions within the lease.
    await new Promise((r) => setTimeout(r, ttl / 3));
    expect(await task(bad)).toEqual({ state: "acquired", version: 1 });
    const good = `good-${uid()}`;
    await starter.beginRpc(good, "echo", 7, starter.options({ target: group }));
    await eventually("the next task to run", async () =>
      (await state(good)) === "resolved" ? true : undefined,
    );
    await acquired(bad, 2);
    await new Promise((r) => setTimeout(r, ttl));
    const elapsed = Date.now() - t0;
    expect((await task(bad))!.version).toBeLessThanOrEqual(Math.ceil(elapsed / ttl) + 1);
  });
});
