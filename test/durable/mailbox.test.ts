// The worker's long-lived session with the store (functions/shared/store/mailbox.ts) when its
// connection is cut at an awkward moment, and a graceful drain racing a delivery tick
// (functions/shared/store/network.ts). The cuts go through a TCP proxy in front of Postgres, which
// drops the sockets without a word from the server, as a network fault or a crashed host does; the
// awkward moments are held open with a table lock the call under test waits on.
import type { Message } from "@resonatehq/sdk";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mailbox } from "../../functions/shared/store/mailbox.ts";
import { StoreNetwork } from "../../functions/shared/store/network.ts";
import { dropDatabase, freshDatabase } from "../support/db.ts";
import { eventually } from "../support/http-server.ts";
import { silentServer, tcpProxy } from "../support/tcp-proxy.ts";

const DB = "durable_mailbox";
let url: string;
let pool: pg.Pool;
const uid = () => Math.random().toString(36).slice(2, 10);

beforeAll(async () => {
  url = await freshDatabase(DB);
  pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on("error", () => {});
});

afterAll(async () => {
  await pool?.end();
  await dropDatabase(DB);
});

/** Holds an exclusive lock on a resonate table until released, so calls touching it wait. */
async function lockTable(table: string): Promise<{ client: pg.PoolClient; release(): Promise<void> }> {
  const c = await pool.connect();
  await c.query("begin");
  await c.query(`lock table resonate.${table} in access exclusive mode`);
  return {
    client: c,
    async release() {
      await c.query("commit");
      c.release();
    },
  };
}

/** Waits until a session runs a statement containing `text` and waits for a lock. */
function waitingOn(text: string) {
  return eventually(`a call of ${text} waiting for its lock`, async () => {
    const { rows } = await pool.query(
      "select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%' || $1 || '%'",
      [text],
    );
    return rows.length > 0 ? true : undefined;
  });
}

function mailbox(connectionString: string, connectTimeoutMs?: number) {
  const events: string[] = [];
  const m = new Mailbox({
    connectionString,
    connectTimeoutMs,
    pid: `mailbox-${uid()}`,
    anycast: `poll://any@mailbox-${uid()}`,
    unicast: `poll://uni@mailbox-${uid()}/x`,
    tickMs: 100,
    claimMs: 2_000,
    freeSlots: () => 1,
    keep: () => [],
    deliver: () => {},
    onConnected: () => events.push("connected"),
    onLost: () => events.push("lost"),
    warn: (event) => events.push(event),
  });
  return { m, events };
}

describe("the mailbox's session", () => {
  it("survives its connection being cut while it registers, and registers again", async () => {
    const p = await tcpProxy(url);
    await p.open();
    const { m } = mailbox(p.url);
    const uncaught: unknown[] = [];
    const record = (err: unknown) => uncaught.push(err);
    process.on("uncaughtException", record);
    try {
      const lock = await lockTable("workers");
      void m.start();
      await waitingOn("worker_register");
      p.cut();
      await new Promise((r) => setTimeout(r, 200));
      await lock.release();
      await eventually("the mailbox registered again", async () => (m.ready ? true : undefined));
      expect(uncaught).toEqual([]);
    } finally {
      process.off("uncaughtException", record);
      await m.close();
      await p.close();
    }
  });

  it("connects again when its connection is cut during the first tick after registering", async () => {
    const p = await tcpProxy(url);
    await p.open();
    const { m, events } = mailbox(p.url);
    try {
      const lock = await lockTable("outbox");
      void m.start();
      await waitingOn("worker_tick");
      expect(events).toEqual(["connected"]);
      p.cut();
      await eventually("the loss noticed", async () => (events.includes("lost") ? true : undefined));
      await lock.release();
      await eventually("the mailbox connected again", async () => (m.ready ? true : undefined), 5_000);
      expect(events.filter((e) => e === "connected")).toHaveLength(2);
    } finally {
      await m.close();
      await p.close();
    }
  });
});

describe("a mailbox that cannot reach its database", () => {
  it("tries again when a connection is never answered, and lets go at once when closed", async () => {
    const silent = await silentServer(url);
    const { m, events } = mailbox(silent.url, 300);
    try {
      const started = m.start();
      await eventually("a second attempt", async () =>
        events.filter((e) => e === "durable store unreachable; retrying").length >= 2 ? true : undefined,
      );
      // Now waiting a second before its third attempt.
      const t0 = performance.now();
      await m.close();
      await started;
      expect(performance.now() - t0).toBeLessThan(250);
    } finally {
      await m.close();
      await silent.close();
    }
  });
});

describe("a graceful drain", () => {
  it("counts the execute messages a tick already in flight takes, rather than returning before they arrive", async () => {
    const group = `drain-${uid()}`;
    const net = new StoreNetwork({ connectionString: url, group, tickMs: 100, concurrency: 5 });
    const executes: { at: number }[] = [];
    net.recv((msg: Message) => {
      if (msg.kind === "execute") executes.push({ at: Date.now() });
    });
    void net.init();
    try {
      await eventually("the network's session", async () => (net.ready ? true : undefined));
      // An execute message for the group, put in the outbox while the next tick waits to read it.
      const id = `drain-${uid()}`;
      await pool.query(
        `select resonate.resonate_rpc(jsonb_build_object('kind', 'promise.create',
           'head', jsonb_build_object('corrId', 'c', 'version', '2026-04-01'),
           'data', jsonb_build_object('id', $1::text, 'timeoutAt', 9999999999999, 'param', '{}'::jsonb,
             'tags', jsonb_build_object('resonate:target', 'poll://any@nobody-' || $1::text))))`,
        [id],
      );
      const lock = await lockTable("outbox");
      await waitingOn("worker_tick");
      await lock.client.query("update resonate.outbox set address = $1 where task_id = $2", [
        net.anycast,
        id,
      ]);
      const drained = net.drain(1_000).then(() => Date.now());
      await new Promise((r) => setTimeout(r, 200));
      await lock.release();
      const drainedAt = await drained;
      await new Promise((r) => setTimeout(r, 300));
      expect(executes).toHaveLength(1);
      expect(executes[0]!.at).toBeLessThanOrEqual(drainedAt);
    } finally {
      await net.stop();
    }
  });
});
