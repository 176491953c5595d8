// `npm run bench:edge-starts`: what starting workflows costs an Edge Function isolate, side by side in
// one run: the SDK's PostgresNetwork (what the functions used), and our start-only network
// (functions/shared/start-network.ts) on the direct connection and through the transaction pooler.
// For 100 concurrent starts: database backends at peak, backends and timers still held once every
// start has answered, and wall time. Backends are counted on the bench's own database, so pooler
// connections count as the server connections pgbouncer opens for them.
import type { AppConfig } from "../functions/shared/config.ts";
import { loadConfig } from "../functions/shared/config.ts";
import { closeConnections } from "../functions/shared/edge-db.ts";
import { createResonate, toWorkers } from "../functions/shared/resonate-client.ts";
import { startWorkflow } from "../functions/shared/start-workflow.ts";
import { POOLER_URL } from "../scripts/stack/pooler.ts";
import { dropDatabase, freshDatabase, withAdmin } from "../test/support/db.ts";
import { type Row, report } from "./lib/report.ts";

const DB = "bench_edge_starts";
const STARTS = 100;

const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

async function backends(): Promise<number> {
  return withAdmin(async (c) => {
    const { rows } = await c.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
      [DB],
    );
    return rows[0]!.n;
  });
}

/** Samples the backend count every 20 ms while `work` runs; returns its peak. */
async function peakDuring(work: Promise<unknown>): Promise<number> {
  let peak = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      peak = Math.max(peak, await backends());
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    await work;
  } finally {
    done = true;
    await sampler;
  }
  return peak;
}

async function run(
  label: string,
  start: (id: string) => Promise<void>,
  after: () => Promise<void>,
): Promise<Row> {
  const timersBefore = timers();
  const t0 = performance.now();
  const ids = Array.from(
    { length: STARTS },
    (_, i) => `bench-edge/${label.replace(/\W+/g, "-")}-${Date.now()}-${i}`,
  );
  const peak = await peakDuring(Promise.all(ids.map(start)));
  const ms = performance.now() - t0;
  // What an isolate would keep after answering its last request.
  await new Promise((r) => setTimeout(r, 300));
  const held = await backends();
  const timersLeft = timers() - timersBefore;
  await after();
  return {
    client: label,
    "peak backends": peak,
    "backends held after": held,
    "timers left after": timersLeft,
    [`ms for ${STARTS} starts`]: Math.round(ms),
  };
}

async function main(): Promise<void> {
  const url = await freshDatabase(DB);
  const pooled = new URL(POOLER_URL);
  pooled.pathname = `/${DB}`;
  const base = loadConfig();
  const cfg = (poolerUrl: string | undefined): AppConfig => ({ ...base, databaseUrl: url, poolerUrl });
  const rows: Row[] = [];
  try {
    // The old way: one long-lived client per isolate, as edge-webhook.ts built it.
    const sdk = createResonate({ databaseUrl: url, resonate: base.resonate, group: "edge" });
    const target = toWorkers(sdk, base.resonate.group);
    rows.push(
      await run(
        "SDK PostgresNetwork (before)",
        async (id) => {
          await sdk.beginRpc(id, "benchNoop", 1, target);
        },
        () => sdk.stop(),
      ),
    );
    rows.push(
      await run(
        "start-only, direct",
        (id) => startWorkflow(cfg(undefined), id, "benchNoop", [1]),
        async () => {},
      ),
    );
    rows.push(
      await run(
        "start-only, via pooler",
        (id) => startWorkflow(cfg(pooled.toString()), id, "benchNoop", [1]),
        closeConnections,
      ),
    );
  } finally {
    await dropDatabase(DB);
  }
  report(
    "edge-starts",
    `Starting ${STARTS} workflows concurrently from one Edge Function isolate`,
    rows,
    "Backends: connections on the bench database (through the pooler, its server connections, which it keeps " +
      "idle for reuse). Held after: 300 ms after the last start answered, before the client is stopped. " +
      "Timers: Node Timeout handles the client left pending. No worker runs; each start is one promise.create.",
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
