// `npm run bench:recovery [-- --trials 20]`: how long a workflow waits after its worker is SIGKILLed
// while another worker of its group is alive: from the kill to the next step running on the peer.
// Our adapter's workers (production defaults: 60 s lease, 250 ms tick) against the SDK's own
// PostgresNetwork workers, whose only way back is the lease (given 10 s here, or a trial would take a
// minute). Each trial kills whichever worker holds the workflow and starts a replacement, so two
// workers are always alive.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { createResonate, toWorkers } from "../functions/shared/resonate-client.ts";
import { ROOT } from "../scripts/stack/layout.ts";
import { dropDatabase, freshDatabase } from "../test/support/db.ts";
import { type FixtureWorker, startFixtureWorker } from "../test/support/durable/processes.ts";
import { type Row, report } from "./lib/report.ts";

const argValue = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const TRIALS = Number(argValue("--trials") ?? 20);
const REFERENCE_TRIALS = Number(argValue("--reference-trials") ?? 5);
const REFERENCE_TTL_MS = 10_000;
const DB = "bench_recovery";

interface Kind {
  label: string;
  env: Record<string, string>;
  trials: number;
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function measure(url: string, pool: pg.Pool, kind: Kind, tag: string): Promise<number[]> {
  const group = `recovery-${tag}`;
  const starter = createResonate({
    databaseUrl: url,
    group: `${group}-starter`,
    resonate: { serverUrl: undefined, group: `${group}-starter`, ttlMs: 60_000, tickMs: 250 },
  });
  let n = 0;
  const start = () => {
    const w = startFixtureWorker(url, group, `${group}-w${n++}`, kind.env);
    return w.ready().then(() => w);
  };
  const workers: FixtureWorker[] = await Promise.all([start(), start()]);
  const times: number[] = [];
  try {
    for (let t = 0; t < kind.trials; t++) {
      const runId = `${group}-run-${t}`;
      // Long enough never to finish during a trial: 1,000 steps of 20 ms.
      await starter.beginRpc(runId, "sequential", runId, 1_000, 20, toWorkers(starter, group));
      await waitFor(
        "three steps",
        async () => {
          const { rows } = await pool.query("select count(*)::int as n from step_log where run_id = $1", [
            runId,
          ]);
          return rows[0].n >= 3 ? true : undefined;
        },
        60_000,
      );
      const holder = await waitFor(
        "the holder",
        async () =>
          (
            await pool.query<{ pid: string }>(
              "select pid from resonate.tasks where id = $1 and state = 'acquired'",
              [runId],
            )
          ).rows[0]?.pid,
        10_000,
      );
      const victim = workers.find((w) => w.id === holder)!;
      await victim.kill("SIGKILL");
      const killedAt = Date.now();
      const resumedAt = await waitFor(
        "a step on the peer",
        async () => {
          const { rows } = await pool.query<{ t: string | null }>(
            "select extract(epoch from min(at)) * 1000 as t from step_log where run_id = $1 and worker <> $2",
            [runId, holder],
          );
          return rows[0]?.t ? Number(rows[0].t) : undefined;
        },
        120_000,
      );
      times.push((resumedAt - killedAt) / 1000);
      console.error(`${kind.label}: trial ${t + 1}: ${times.at(-1)!.toFixed(2)} s`);
      await pool.query("select public.cancel_workflow($1)", [runId]);
      workers.splice(workers.indexOf(victim), 1, await start());
    }
  } finally {
    await Promise.all(workers.map((w) => w.kill("SIGKILL")));
    await starter.stop();
  }
  return times;
}

async function main(): Promise<void> {
  const url = await freshDatabase(DB);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  await pool.query(readFileSync(join(ROOT, "test/support/durable/schema.sql"), "utf8"));
  const kinds: Kind[] = [
    { label: "our StoreNetwork workers (lease 60 s, tick 250 ms)", env: {}, trials: TRIALS },
    {
      label: `the SDK's PostgresNetwork workers (lease ${REFERENCE_TTL_MS / 1000} s, tick 250 ms)`,
      env: { FIXTURE_NETWORK: "sdk-postgres", RESONATE_TTL_MS: String(REFERENCE_TTL_MS) },
      trials: REFERENCE_TRIALS,
    },
  ];
  const rows: Row[] = [];
  try {
    for (const [i, kind] of kinds.entries()) {
      const times = await measure(url, pool, kind, String(i));
      rows.push({
        workers: kind.label,
        trials: times.length,
        "p50 s": Number(percentile(times, 50).toFixed(2)),
        "p95 s": Number(percentile(times, 95).toFixed(2)),
        "max s": Number(Math.max(...times).toFixed(2)),
      });
    }
  } finally {
    await pool.end();
    await dropDatabase(DB);
  }
  report(
    "recovery",
    "Recovery after SIGKILL with a live peer",
    rows,
    [
      "Two fixture worker processes in one group; a 1,000-step workflow (20 ms steps) runs on one of them; the",
      "holder is SIGKILLed after its third step; measured from the kill to the first step the peer records.",
      "Our workers register a database session whose advisory lock ends with the process: the peer's next tick",
      "(resonate.worker_tick) finds it free and releases the dead worker's tasks, whose execute the peer takes",
      "at once. The SDK's PostgresNetwork workers wait for the lease to lapse (60 s by default; 10 s here).",
    ].join("\n"),
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
