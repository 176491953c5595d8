// `npm run bench:durable-steps [-- --steps 300]`: what one durable step costs on the `resonate` schema
// (through the SDK's own PostgresNetwork) next to the SDK's in-memory LocalNetwork, measured in one
// run; and whether that cost grows with history (10k and 1M settled promises already in the tables).
import { type Context, Resonate } from "@resonatehq/sdk";
import pg from "pg";
import { createResonate } from "../functions/shared/resonate-client.ts";
import { dropDatabase, freshDatabase, withClient } from "../test/support/db.ts";
import { type Row, report } from "./lib/report.ts";

const argValue = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const SEQ_STEPS = Number(argValue("--steps") ?? 300);
const FAN = 100;
const REPEATS = 5;
const HISTORIES = (argValue("--histories") ?? "10000,1000000").split(",").map(Number);
const DB = "bench_durable_steps";

const noop = (_ctx: Context, i: number) => i;

function register(resonate: Resonate): void {
  resonate.register("seqBench", function* (ctx: Context, n: number) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += yield* ctx.run(noop, i);
    return sum;
  });
  resonate.register("fanBench", function* (ctx: Context, n: number) {
    const handles = [];
    for (let i = 0; i < n; i++) handles.push(yield* ctx.beginRun(noop, i));
    let sum = 0;
    for (const h of handles) sum += yield* h;
    return sum;
  });
}

const STEP_COL = "ms per sequential step (median of 3)";
const FAN_COL = `${FAN}-way fan-out steps/s (median of ${REPEATS})`;
const floorRow = (store: string, history: number, ms: number): Row => ({
  store,
  "settled promises before": history.toLocaleString("en-US"),
  [STEP_COL]: ms,
  [FAN_COL]: "-",
});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
let seq = 0;

async function measure(resonate: Resonate, label: string, history: string): Promise<Row> {
  const tag = `${label}-${history}-${Date.now()}`;
  await resonate.run(`warm-${tag}`, "seqBench", 20);
  const perStep: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    await resonate.run(`seq-${tag}-${seq++}`, "seqBench", SEQ_STEPS);
    perStep.push((performance.now() - t0) / SEQ_STEPS);
  }
  const fanRate: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    await resonate.run(`fan-${tag}-${seq++}`, "fanBench", FAN);
    fanRate.push(FAN / ((performance.now() - t0) / 1000));
  }
  return {
    store: label,
    "settled promises before": history,
    [STEP_COL]: Number(median(perStep).toFixed(3)),
    [FAN_COL]: Math.round(median(fanRate)),
  };
}

/** Fills the store with settled workflow history: roots with a fulfilled task, each with 9 children. */
async function seedHistory(url: string, total: number): Promise<void> {
  await withClient(async (c) => {
    await c.query("truncate resonate.promises cascade");
    await c.query(
      `insert into resonate.promises (id, state, param, value, tags, timeout_at, created_at, settled_at)
       select case when g % 10 = 0 then 'hist-' || g else 'hist-' || (g / 10 * 10) || ':' || (g % 10) end,
              'resolved', '{}', '{"data": "MQ=="}',
              case when g % 10 = 0 then '{"resonate:scope": "global", "resonate:target": "poll://any@workers"}'::jsonb
                   else jsonb_build_object('resonate:scope', 'local', 'resonate:branch', 'hist-' || (g / 10 * 10)) end,
              1900000000000, 1700000000000 + g, 1700000000001 + g
         from generate_series(0, $1 - 1) g`,
      [total],
    );
    await c.query(
      `insert into resonate.tasks (id, state, version)
       select id, 'fulfilled', 1 from resonate.promises where id like 'hist-%' and id not like '%:%'`,
    );
    await c.query("vacuum analyze resonate.promises");
    await c.query("vacuum analyze resonate.tasks");
    // Measure steps, not the write-back of the seed: flush it before timing starts.
    await c.query("checkpoint");
  }, url);
}

interface Floor {
  roundTrip: number;
  twoWrites: number;
}

/**
 * What a durable step costs with no protocol and no SDK: the same client library, and per step the two
 * writes a step must make (its promise row inserted without waiting for the flush, then updated with a
 * flushed commit), each as bare SQL in its own round trip. Measured on the same database, right after
 * the store, so both see the same machine.
 */
async function measureFloor(url: string, steps: number): Promise<Floor> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const tags = JSON.stringify({ "resonate:scope": "local", "resonate:branch": "floor" });
    const value = JSON.stringify({ headers: {}, data: "MQ==" });
    const rounds: number[] = [];
    const writes: number[] = [];
    for (let r = 0; r < 3; r++) {
      const tag = `floor-${Date.now()}-${r}`;
      let t0 = performance.now();
      for (let i = 0; i < steps; i++) await c.query("select 1");
      rounds.push((performance.now() - t0) / steps);
      t0 = performance.now();
      for (let i = 0; i < steps; i++) {
        const id = `${tag}.${i}`;
        await c.query(
          `begin; set local synchronous_commit = off;
           insert into resonate.promises (id, state, param, tags, timeout_at, created_at)
           values ('${id}', 'pending', '${value}', '${tags}', 9000000000000, 1); commit`,
        );
        await c.query(
          "update resonate.promises set state = 'resolved', value = $2, settled_at = 2 where id = $1",
          [id, value],
        );
      }
      writes.push((performance.now() - t0) / steps);
    }
    return { roundTrip: median(rounds), twoWrites: median(writes) };
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const local = new Resonate({ group: "bench" });
  register(local);
  const localRow = await measure(local, "LocalNetwork (in memory)", "-");
  rows.push(localRow);
  await local.stop();
  const sdkMs = localRow[STEP_COL] as number;
  let floor: Floor | undefined;

  const url = await freshDatabase(DB);
  try {
    for (const history of HISTORIES) {
      console.error(`seeding ${history} settled promises...`);
      await seedHistory(url, history);
      const resonate = createResonate({
        databaseUrl: url,
        group: "bench",
        resonate: { serverUrl: undefined, group: "bench", ttlMs: 60_000, tickMs: 250 },
      });
      register(resonate);
      rows.push(
        await measure(resonate, "resonate schema (PostgresNetwork)", history.toLocaleString("en-US")),
      );
      await resonate.stop();
      if (!floor) {
        floor = await measureFloor(url, SEQ_STEPS);
        const ms = (x: number) => Number(x.toFixed(3));
        rows.push(
          floorRow("floor: the step's two writes as bare SQL", history, ms(floor.twoWrites)),
          floorRow("floor + the SDK's own per-step cost", history, ms(floor.twoWrites + sdkMs)),
        );
      }
    }
  } finally {
    await dropDatabase(DB);
  }
  report(
    "durable-steps",
    "Durable steps: resonate schema vs in-memory",
    rows,
    [
      `A sequential step is one \`ctx.run\` in a ${SEQ_STEPS}-step workflow run in-process: two \`task.fence\` round trips`,
      "(start the step: commit without waiting for the WAL flush; record its result: synchronous commit).",
      `Fan-out: one workflow that issues ${FAN} \`ctx.beginRun\` branches, then awaits them.`,
      "The floor rows measure, in the same run and with the same client library, what any store must do per",
      "step: insert the step's promise row (no flush) and update it with its result (flushed), each as bare SQL",
      `in its own round trip; a bare round trip (\`select 1\`) took ${floor ? floor.roundTrip.toFixed(3) : "?"} ms. Adding the SDK's own per-step`,
      "cost (the LocalNetwork row) gives the lowest step time this machine allows while a step's result is",
      "durable before the workflow moves on. Target: at most 1.0 ms per sequential step, flat as history grows.",
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
