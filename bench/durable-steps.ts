// `npm run bench:durable-steps [-- --steps 300] [-- --histories 10000,1000000]`: what one durable step
// costs on the `resonate` schema through our Network adapter and through the SDK's own
// PostgresNetwork, next to the physical price of durability here (one committed single-row insert)
// and the SDK's in-memory LocalNetwork, all measured side by side in one run; whether that grows
// with history (10k and 1M settled promises already in the tables); and what many workflows at once
// cost when their requests share round trips.
import { type Context, Resonate } from "@resonatehq/sdk";
import { PostgresNetwork } from "@resonatehq/sdk/postgres";
import pg from "pg";
import { createResonate } from "../functions/shared/resonate-client.ts";
import { dropDatabase, freshDatabase, withAdmin, withClient } from "../test/support/db.ts";
import { type Row, report } from "./lib/report.ts";

const argValue = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const SEQ_STEPS = Number(argValue("--steps") ?? 300);
const FAN = 100;
const REPEATS = 9;
/** Workflows run at once for the throughput column, each CONCURRENT_STEPS sequential steps. */
const CONCURRENT = 8;
const CONCURRENT_STEPS = 100;
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

const STEP_COL = `ms per sequential step (median of ${REPEATS})`;
const RATIO_COL = "x one committed insert";
const PREPARED_RATIO_COL = "x one prepared committed insert";
const FAN_COL = `${FAN}-way fan-out steps/s (median of ${REPEATS})`;
const MANY_COL = `${CONCURRENT} workflows at once, steps/s (median of 5)`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
let seq = 0;

interface Store {
  label: string;
  resonate: Resonate;
  perStep: number[];
  fanRate: number[];
  manyRate: number[];
}

async function sequential(s: Store): Promise<void> {
  const t0 = performance.now();
  await s.resonate.run(`seq-${seq++}`, "seqBench", SEQ_STEPS);
  s.perStep.push((performance.now() - t0) / SEQ_STEPS);
}

async function fanOut(s: Store): Promise<void> {
  const t0 = performance.now();
  await s.resonate.run(`fan-${seq++}`, "fanBench", FAN);
  s.fanRate.push(FAN / ((performance.now() - t0) / 1000));
}

async function many(s: Store): Promise<void> {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENT }, () => s.resonate.run(`many-${seq++}`, "seqBench", CONCURRENT_STEPS)),
  );
  s.manyRate.push((CONCURRENT * CONCURRENT_STEPS) / ((performance.now() - t0) / 1000));
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
  }, url);
  // Measure steps, not the write-back of the seed: flush it before timing starts (a superuser's job).
  await withAdmin((c) => c.query("checkpoint"), DB);
}

/**
 * What a durable step costs below the SDK, with the same client library, probed right after each of
 * the stores' sequential repetitions so all see the same machine:
 * - a bare round trip;
 * - one committed single-row insert into a small table: one round trip, one WAL flush, the least a
 *   durable step can cost anywhere;
 * - the step's own write on this schema in the leanest form: one call of a plain function that locks
 *   the task row (the fence) and inserts the step's promise, settled, into resonate.promises;
 * - the same through our entry point: one resonate_step call, as the adapter sends a sequential step,
 *   without the SDK around it;
 * - the committed insert and the resonate_step call again, each after as much busy work as the SDK's
 *   per step in memory.
 */
class FloorProbe {
  readonly roundTrip: number[] = [];
  readonly insert: number[] = [];
  readonly insertPrepared: number[] = [];
  readonly leanWrite: number[] = [];
  readonly stepCall: number[] = [];
  readonly insertBetweenWork: number[] = [];
  readonly stepCallBetweenWork: number[] = [];
  /** The SDK's own time per step, ms (the LocalNetwork row's), spent between the probe's inserts. */
  busyMs = 0;
  private readonly c: pg.Client;
  private n = 0;
  private constructor(c: pg.Client) {
    this.c = c;
  }

  static async open(url: string): Promise<FloorProbe> {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    await c.query("create table if not exists bench_floor (id bigserial primary key, value jsonb not null)");
    await c.query(`
      create or replace function public.bench_step_write(p_task text, p_step text) returns void
      language plpgsql as $$
      begin
        perform 1 from resonate.tasks where id = p_task and state = 'acquired' for no key update;
        insert into resonate.promises (id, state, param, value, tags, timeout_at, created_at, settled_at)
        values (p_step, 'resolved', '{"headers": {}, "data": "MQ=="}', '{"headers": {}, "data": "MQ=="}',
                jsonb_build_object('resonate:scope', 'local', 'resonate:branch', p_task), 9000000000000, 1, 1);
      end $$`);
    await c.query("select resonate.resonate_rpc($1::jsonb)", [
      JSON.stringify({
        kind: "task.create",
        head: HEAD,
        data: {
          pid: "floor",
          ttl: 3_600_000,
          action: {
            kind: "promise.create",
            head: HEAD,
            data: {
              id: FLOOR_TASK,
              timeoutAt: Date.now() + 3_600_000,
              param: {},
              tags: {
                "resonate:target": "poll://any@floor",
                "resonate:scope": "global",
                "resonate:branch": FLOOR_TASK,
              },
            },
          },
        },
      }),
    ]);
    return new FloorProbe(c);
  }

  async once(steps: number): Promise<void> {
    const time = async (into: number[], one: () => Promise<unknown>) => {
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) await one();
      into.push((performance.now() - t0) / steps);
    };
    await time(this.roundTrip, () => this.c.query("select 1"));
    await time(this.insert, () =>
      this.c.query("insert into bench_floor (value) values ($1)", ['{"headers": {}, "data": "MQ=="}']),
    );
    // Prepared once, as the adapter's statements are (store/sessions.ts): parse and plan skipped.
    await time(this.insertPrepared, () =>
      this.c.query({
        name: "floor_insert",
        text: "insert into bench_floor (value) values ($1)",
        values: ['{"headers": {}, "data": "MQ=="}'],
      }),
    );
    await time(this.leanWrite, () =>
      this.c.query({
        name: "floor_lean_write",
        text: "select public.bench_step_write($1, $2)",
        values: [FLOOR_TASK, `${FLOOR_TASK}:w${this.n++}`],
      }),
    );
    await time(this.stepCall, () => this.stepWrite());
    // The same insert with as much work between commits as the SDK does between a sequential
    // workflow's steps: the database's side idles meanwhile, and the next round trip wakes it.
    const busy = this.busyMs;
    await time(this.insertBetweenWork, async () => {
      const until = performance.now() + busy;
      while (performance.now() < until);
      await this.c.query("insert into bench_floor (value) values ($1)", ['{"headers": {}, "data": "MQ=="}']);
    });
    // And the adapter's call for a step after the same work: what a step would cost if the adapter's own
    // work and its waits cost nothing, so the sequential step's excess over this row is the adapter's.
    await time(this.stepCallBetweenWork, async () => {
      const until = performance.now() + busy;
      while (performance.now() < until);
      await this.stepWrite();
    });
  }

  /** One resonate_step call with the arguments the adapter passes for a step (store/step-pairs.ts, loneStep). */
  private stepWrite(): Promise<unknown> {
    return this.c.query({
      name: "floor_step",
      text: "select resonate.resonate_step($1, $2, $3, $4, $5, $6, $7, $8)",
      values: [
        FLOOR_TASK,
        1,
        `${FLOOR_TASK}:b${this.n++}`,
        Date.now() + 3_000_000,
        '{"headers":{},"data":"MQ=="}',
        JSON.stringify({
          "resonate:scope": "local",
          "resonate:branch": FLOOR_TASK,
          "resonate:parent": FLOOR_TASK,
        }),
        "resolved",
        '{"headers":{},"data":"MQ=="}',
      ],
    });
  }

  close(): Promise<void> {
    return this.c.end();
  }
}

const HEAD = { corrId: "floor", version: "2026-04-01" };
const FLOOR_TASK = "floor-task";

function storeRow(s: Store, history: string, insertMs: number, preparedMs: number): Row {
  const ms = median(s.perStep);
  const ratio = (floor: number) => (s.perStep.length ? Number((ms / floor).toFixed(2)) : "-");
  return {
    store: s.label,
    "settled promises before": history,
    [STEP_COL]: Number(ms.toFixed(3)),
    [RATIO_COL]: ratio(insertMs),
    [PREPARED_RATIO_COL]: ratio(preparedMs),
    [FAN_COL]: s.fanRate.length ? Math.round(median(s.fanRate)) : "-",
    [MANY_COL]: s.manyRate.length ? Math.round(median(s.manyRate)) : "-",
  };
}

function floorRow(label: string, history: string, ms: number): Row {
  return {
    store: label,
    "settled promises before": history,
    [STEP_COL]: Number(ms.toFixed(3)),
    [RATIO_COL]: "-",
    [PREPARED_RATIO_COL]: "-",
    [FAN_COL]: "-",
    [MANY_COL]: "-",
  };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const local: Store = {
    label: "LocalNetwork (in memory)",
    resonate: new Resonate({ group: "bench" }),
    perStep: [],
    fanRate: [],
    manyRate: [],
  };
  register(local.resonate);
  await local.resonate.run("warm-local", "seqBench", 20);
  for (let r = 0; r < REPEATS; r++) await sequential(local);
  for (let r = 0; r < REPEATS; r++) await fanOut(local);
  await local.resonate.stop();
  rows.push({ ...storeRow(local, "-", Number.NaN, Number.NaN), [RATIO_COL]: "-", [PREPARED_RATIO_COL]: "-" });

  const url = await freshDatabase(DB);
  try {
    for (const history of HISTORIES) {
      console.error(`seeding ${history} settled promises...`);
      await seedHistory(url, history);
      const config = { serverUrl: undefined, group: "bench", ttlMs: 60_000, tickMs: 250 };
      const stores: Store[] = [
        {
          label: "resonate schema, our StoreNetwork",
          resonate: createResonate({ databaseUrl: url, group: "bench-ours", resonate: config }),
          perStep: [],
          fanRate: [],
          manyRate: [],
        },
        {
          label: "resonate schema, the SDK's PostgresNetwork",
          resonate: new Resonate({
            network: new PostgresNetwork({ connectionString: url, group: "bench-sdk" }),
            group: "bench-sdk",
          }),
          perStep: [],
          fanRate: [],
          manyRate: [],
        },
      ];
      for (const s of stores) {
        register(s.resonate);
        await s.resonate.run(`warm-${seq++}`, "seqBench", 20);
      }
      const probe = await FloorProbe.open(url);
      probe.busyMs = median(local.perStep);
      // Interleaved, so machine drift hits every row alike.
      for (let r = 0; r < REPEATS; r++) {
        for (const s of stores) await sequential(s);
        await probe.once(SEQ_STEPS);
      }
      for (let r = 0; r < REPEATS; r++) for (const s of stores) await fanOut(s);
      for (let r = 0; r < 5; r++) for (const s of stores) await many(s);
      for (const s of stores) await s.resonate.stop();
      await probe.close();
      const label = history.toLocaleString("en-US");
      const insertMs = median(probe.insert);
      const preparedMs = median(probe.insertPrepared);
      rows.push(
        ...stores.map((s) => storeRow(s, label, insertMs, preparedMs)),
        floorRow("one committed single-row insert (the floor)", label, insertMs),
        floorRow("the same insert as a prepared statement", label, preparedMs),
        floorRow(
          "a step's write alone: fence lock + insert, one plain function call",
          label,
          median(probe.leanWrite),
        ),
        floorRow(
          "one resonate_step call, as the adapter sends a sequential step, no SDK",
          label,
          median(probe.stepCall),
        ),
        floorRow(
          "one committed single-row insert after the SDK's time per step of work (LocalNetwork row)",
          label,
          median(probe.insertBetweenWork),
        ),
        floorRow(
          "one resonate_step call after the SDK's time per step of work (LocalNetwork row)",
          label,
          median(probe.stepCallBetweenWork),
        ),
        floorRow("a bare round trip (select 1)", label, median(probe.roundTrip)),
      );
    }
  } finally {
    await dropDatabase(DB);
  }
  report(
    "durable-steps",
    "Durable steps: our adapter vs the SDK's PostgresNetwork vs one committed insert",
    rows,
    [
      `A sequential step is one \`ctx.run\` in a ${SEQ_STEPS}-step workflow run in-process. Through our adapter`,
      "(functions/shared/store/) the step's create is answered at once and reaches the store with its result, one",
      "round trip and one WAL flush per step (resonate._steps_fused writes the step's promise once, settled); the result",
      "is answered at once too and written while the SDK goes on to the next step, whose start waits for that write.",
      "Through the SDK's PostgresNetwork it is two task.fence round trips, the second flushed.",
      `Fan-out: one workflow that issues ${FAN} \`ctx.beginRun\` branches, then awaits them. The SDK settles each branch as`,
      "it is awaited, one after another; the SDK's PostgresNetwork sends each settle as a flushed round trip, while our",
      "adapter answers a branch's result while other branches are unsettled and sends the whole fan-in (every branch's",
      "create and result) with the last one: one call of resonate.resonate_batch and one flush.",
      `${CONCURRENT} workflows at once: ${CONCURRENT} ${CONCURRENT_STEPS}-step sequential workflows started together; through our`,
      "adapter their requests share calls of resonate.resonate_batch (one round trip and one flush for all).",
      "The other rows are probed right after each sequential repetition with the same client library, so they see the",
      "same machine: a committed single-row insert is one round trip plus one WAL flush, what any durable step costs at",
      "least, once as a plain parameterized query (the floor the issue set) and once as a prepared statement, as the",
      "adapter sends its calls (store/sessions.ts; the two ratio columns divide by each); a step's write alone is",
      "the same commit with the row this schema keeps per step (its promise, settled, in",
      "resonate.promises with its indexes) behind the fence's row lock, through the leanest plain function; the",
      "resonate_step call is what our adapter sends per sequential step (typed arguments), without the SDK. So the",
      "sequential step splits into that call plus the SDK's and the adapter's own work, and that call into the schema's",
      "write plus the entry point's work. The row of an insert after the SDK's work is the first insert again, each",
      "after as much busy work in the process as the SDK does per step in memory: a round trip costs more when the",
      "database's side has idled. The resonate_step call after the same work is what a sequential step would cost if",
      "the adapter's own work and waits cost nothing: the step's excess over it is the adapter's share.",
      "The machine is shared and its timings drift between runs; compare rows of one run.",
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
