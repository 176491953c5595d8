// Differential test: seeded request sequences applied to the SDK's reference Server and to the
// resonate schema must agree step by step (see differential/runner.ts for what is compared and
// for the explicit list of intentional deviations). A longer randomized campaign:
//   node_modules/.bin/node scripts/resonate-campaign.ts --seeds 2000
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropDatabase, freshDatabase } from "../support/db.ts";
import { AdapterClient } from "../support/resonate/differential/adapter-client.ts";
import { DEVIATIONS, formatFailure, runSeed, SchemaClient } from "../support/resonate/differential/runner.ts";

const SEEDS = Array.from({ length: 30 }, (_, i) => i + 1);
const STEPS = 80;

// A correctness check, not a timed one: at load 9 the 2,400 steps through the adapter took over 60 s.
describe("resonate schema vs the SDK's reference Server (eager, 30 s retry, UTC cron)", {
  timeout: 180_000,
}, () => {
  let client: pg.Client;
  let sut: SchemaClient;
  let url: string;

  beforeAll(async () => {
    url = await freshDatabase("resonate_diff");
    client = new pg.Client({ connectionString: url });
    client.on("error", () => {});
    await client.connect();
    sut = await SchemaClient.open(client);
  });

  afterAll(async () => {
    await client?.end();
    await dropDatabase("resonate_diff");
  });

  it("documents every intentional deviation", () => {
    expect(Object.keys(DEVIATIONS).length).toBeGreaterThan(0);
  });

  it(`agrees on ${SEEDS.length} fixed seeds x ${STEPS} steps`, async () => {
    const failures: string[] = [];
    let steps = 0;
    for (const seed of SEEDS) {
      const result = await runSeed(sut, seed, STEPS);
      steps += result.steps;
      if (result.failure) failures.push(formatFailure(result.failure));
    }
    if (failures.length > 0) console.error(failures.join("\n\n"));
    expect(failures, `${failures.length} failing seeds`).toEqual([]);
    expect(steps).toBe(SEEDS.length * STEPS);
  });

  it(`agrees on the same seeds with every request sent through our Network adapter, in batches`, async () => {
    const adapter = await AdapterClient.through(client, url);
    try {
      const failures: string[] = [];
      for (const seed of SEEDS) {
        const result = await runSeed(adapter, seed, STEPS);
        if (result.failure) failures.push(formatFailure(result.failure));
      }
      if (failures.length > 0) console.error(failures.join("\n\n"));
      expect(failures, `${failures.length} failing seeds`).toEqual([]);
      // Each request went in a call with two probes; only the blockers that held the line went alone.
      const { roundTrips, requests } = adapter.stats();
      expect(requests).toBeGreaterThanOrEqual(SEEDS.length * STEPS * 4);
      expect(requests / roundTrips).toBeGreaterThanOrEqual(1.9);
    } finally {
      await adapter.close();
    }
  });
});
