// Fan-out overhead of the image workflow: total wall time minus the slowest branch, for 3, 10 and 50
// styles at a fixed simulated latency, on the real durable store with a real worker process.
//   npm run bench:images [-- --sizes 3,10,50 --runs 5 --latency 500]
// Styles are synthetic (bench-01, ...): the rows are inserted into a database of the benchmark's own and
// the workflow is started directly, so the webhook's production limit of 6 known styles stays as it
// is. Images are 32 px so the number measures orchestration, not drawing.
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import type { Context } from "@resonatehq/sdk";
import { loadConfig } from "../functions/shared/config.ts";
import { createResonate, toWorkers } from "../functions/shared/resonate-client.ts";
import { stackEnv } from "../scripts/stack/env.ts";
import { up } from "../scripts/stack.ts";
import { dropDatabase, freshDatabase, pool as makePool } from "../test/support/db.ts";
import { removeStoredImages } from "../test/support/images/harness.ts";
import { startWorker } from "../test/support/worker.ts";
import { type Row, report } from "./lib/report.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "3,10,50" },
    runs: { type: "string", default: "5" },
    latency: { type: "string", default: "500" },
  },
});
const sizes = values.sizes.split(",").map(Number);
const runs = Number(values.runs);
const latency = Number(values.latency);
if (
  sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 500) ||
  !Number.isInteger(runs) ||
  runs < 1 ||
  !Number.isInteger(latency) ||
  latency < 0
) {
  throw new Error("--sizes must be integers from 1 to 500, --runs a positive integer, --latency ms >= 0");
}

const DB = "images_bench";
const GROUP = `images-bench-${process.pid}`;

async function wait(_ctx: Context, ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

function* bareFanOut(ctx: Context, n: number, ms: number): Generator<unknown, number, unknown> {
  const handles = [];
  for (let i = 0; i < n; i++) handles.push(yield* ctx.beginRun(wait, ms));
  for (const h of handles) yield* h;
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const loadAtStart = loadavg()[0]!;
  await up();
  Object.assign(process.env, stackEnv());
  const url = await freshDatabase(DB);
  const pool = makePool(url);
  const worker = startWorker({
    DATABASE_URL: url,
    RESONATE_GROUP: GROUP,
    IMAGES_SIMULATED_LATENCY_MS: String(latency),
    IMAGES_SIMULATED_SIZE: "32",
  });
  const resonate = createResonate({
    databaseUrl: url,
    resonate: { ...loadConfig().resonate, serverUrl: undefined },
    group: `${GROUP}-client`,
  });
  const target = toWorkers(resonate, GROUP);
  // The floor to compare with: the same two loops on the same store, with branches that only wait.
  const bare = createResonate({
    databaseUrl: url,
    resonate: { ...loadConfig().resonate, serverUrl: undefined },
    group: `${GROUP}-bare`,
  });
  bare.register("bareFanOut", bareFanOut);
  const bareTarget = toWorkers(resonate, `${GROUP}-bare`);
  const rows: Row[] = [];
  try {
    await worker.waitForOutput('"event":"started"');
    for (const n of sizes) {
      const styles = Array.from({ length: n }, (_, i) => `bench-${String(i + 1).padStart(2, "0")}`);
      const walls: number[] = [];
      const slowest: number[] = [];
      const overheads: number[] = [];
      const dbOverheads: number[] = [];
      let calls = 0;
      // One unmeasured run first, so connection set-up and JIT warm-up are not counted.
      for (let r = -1; r < runs; r++) {
        const { rows: ins } = await pool.query<{ id: string }>(
          "insert into image_requests (prompt, styles) values ($1, $2) returning id",
          [`bench run ${r} of ${n} styles`, styles],
        );
        const id = ins[0]!.id;
        const t = performance.now();
        const handle = await resonate.beginRpc(`images/${id}`, "generateImages", id, target);
        const outcome = (await handle.result()) as { status: string; succeeded: number };
        const wall = performance.now() - t;
        if (outcome.status !== "succeeded" || outcome.succeeded !== n)
          throw new Error(`run ${r} of ${n} styles: ${JSON.stringify(outcome)}`);
        const { rows: b } = await pool.query<{ slowest: number; calls: number; settled: number }>(
          `select max(g.duration_ms)::int as slowest, sum(g.attempts)::int as calls,
                  (extract(epoch from (r.finished_at - r.created_at)) * 1000)::float8 as settled
             from generated_images g join image_requests r on r.id = g.request_id
            where g.request_id = $1 group by r.id`,
          [id],
        );
        if (r < 0) continue;
        walls.push(wall);
        slowest.push(b[0]!.slowest);
        overheads.push(wall - b[0]!.slowest);
        dbOverheads.push(b[0]!.settled - b[0]!.slowest);
        calls += b[0]!.calls;
      }
      const bareOverheads: number[] = [];
      for (let r = -1; r < runs; r++) {
        const t = performance.now();
        const handle = await resonate.beginRpc(
          `bare/${n}/${r}/${Date.now()}`,
          "bareFanOut",
          n,
          latency,
          bareTarget,
        );
        await handle.result();
        if (r >= 0) bareOverheads.push(performance.now() - t - latency);
      }
      rows.push({
        styles: n,
        runs,
        "latency ms": latency,
        "wall ms (median)": median(walls),
        "slowest branch ms (median)": median(slowest),
        "overhead ms (median)": median(overheads),
        "overhead ms (min)": Math.min(...overheads),
        "overhead ms (max)": Math.max(...overheads),
        "insert to settled - slowest ms (median)": median(dbOverheads),
        "provider calls / run": calls / runs,
        "bare fan-out overhead ms (median)": median(bareOverheads),
      });
      console.log(JSON.stringify(rows.at(-1)));
    }
  } finally {
    await removeStoredImages(pool);
    await worker.kill("SIGTERM");
    await bare.stop();
    await resonate.stop();
    await pool.end();
    await dropDatabase(DB);
  }
  report(
    "images",
    "Image fan-out overhead",
    rows,
    `Wall = from \`beginRpc("images/<id>")\` on a client to its result, through the \`resonate\` schema and one worker process
(2-core machine, Postgres on the same host). Slowest branch = the largest \`generated_images.duration_ms\` (first provider
call to stored image, including writing the PNG and its row). Overhead = wall - slowest branch: starting the workflow,
the start step, creating one durable promise per branch and settling it, and delivering the result.
"Insert to settled" is the same from the database's clock: \`image_requests.finished_at - created_at\` minus the slowest
branch: the request settles with its last image's write, so this leaves out the branches' promise settlements and the
client's notification. Target: under 50 ms at 10 styles.
Min is the run least disturbed by other processes. Bare fan-out = the same two loops on the same store
with branches that only wait the latency (no database, no storage, run in this process): the floor the SDK and
the \`resonate\` schema set, one promise created and one settled per branch.
Each size ran once unmeasured first. Load average when the run started: ${loadAtStart.toFixed(1)} on ${cpus().length} cores
(other engineers' tests share the machine).`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
