// Long randomized differential campaign: the resonate schema against the SDK's reference Server.
//   node_modules/.bin/node scripts/resonate-campaign.ts --seeds 2000 [--start 1000] [--steps 120]
//   node_modules/.bin/node scripts/resonate-campaign.ts --seed 1234 --steps 40   (reproduce one seed)
// Runs in its own database (resonate_campaign), so it never disturbs the shared `postgres` one.
import { parseArgs } from "node:util";
import pg from "pg";
import { dropDatabase, freshDatabase } from "../test/support/db.ts";
import {
  formatFailure,
  runSeed,
  SchemaClient,
  shrink,
} from "../test/support/resonate/differential/runner.ts";

const { values } = parseArgs({
  options: {
    seeds: { type: "string", default: "200" },
    start: { type: "string" },
    seed: { type: "string" },
    steps: { type: "string", default: "120" },
    keep: { type: "boolean", default: false },
    coverage: { type: "boolean", default: false },
    shrink: { type: "boolean", default: true },
  },
});

const steps = Number(values.steps);
const seeds = values.seed
  ? [Number(values.seed)]
  : Array.from(
      { length: Number(values.seeds) },
      (_, i) => i + Number(values.start ?? Date.now() % 1_000_000),
    );

const url = await freshDatabase("resonate_campaign");
let client = new pg.Client({ connectionString: url });
await client.connect();
let sut = await SchemaClient.open(client);
const started = Date.now();
let failed = 0;
let total = 0;
const coverage = new Map<string, number>();
for (const seed of seeds) {
  let result: Awaited<ReturnType<typeof runSeed>> | undefined;
  // The shared cluster may be restarted under a long campaign: reconnect and rerun the seed.
  for (let attempt = 1; !result; attempt++) {
    try {
      result = await runSeed(sut, seed, steps);
    } catch (err) {
      if (attempt >= 5) throw err;
      console.warn(`seed ${seed}: ${(err as Error).message}; reconnecting`);
      await client.end().catch(() => {});
      await new Promise((r) => setTimeout(r, 3000));
      client = new pg.Client({ connectionString: url });
      await client.connect();
      sut = await SchemaClient.open(client);
    }
  }
  total += result.steps;
  for (const [k, n] of result.coverage) coverage.set(k, (coverage.get(k) ?? 0) + n);
  if (result.failure) {
    failed++;
    console.log(`${formatFailure(result.failure)}\n`);
    if (values.shrink) {
      const minimal = await shrink(sut, seed, result.trace);
      console.log(`  shrunk to ${minimal.length} steps:`);
      for (const step of minimal) console.log(`    ${JSON.stringify(step)}`);
      console.log("");
    }
  }
}
await client.end();
if (values.coverage) {
  for (const [k, n] of [...coverage].sort()) console.log(`${k.padEnd(36)} ${n}`);
}
if (!values.keep) await dropDatabase("resonate_campaign");
console.log(
  `${seeds.length - failed}/${seeds.length} seeds passed (${total} steps, ${((Date.now() - started) / 1000).toFixed(1)} s; seeds ${seeds[0]}..${seeds[seeds.length - 1]})`,
);
process.exit(failed === 0 ? 0 : 1);
