// sql/dashboard/03-stuck-runs.sql finds runs stuck in progress (importing, indexing, ...), not only
// queued ones, and says why; the dashboard queries keep sub-second durations.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/stack/layout.ts";
import { dropDatabase, freshDatabase } from "../support/db.ts";

const DB = "operations_stuck_runs";
let client: pg.Client;
const query = (file: string) => readFileSync(join(ROOT, "sql", "dashboard", file), "utf8");

beforeAll(async () => {
  client = new pg.Client({ connectionString: await freshDatabase(DB) });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await dropDatabase(DB);
});

describe("03-stuck-runs.sql", () => {
  it("lists a queued, an importing and an indexing run that are stuck, with the reason, and not a healthy one", async () => {
    const ids = await client.query<{ id: string; kind: string }>(
      `insert into import_jobs (source_url, format, status, created_at, started_at)
       values ('file://q.csv', 'csv', 'queued', now() - interval '10 minutes', null),
              ('file://i.csv', 'csv', 'importing', now() - interval '2 hours', now() - interval '2 hours'),
              ('file://ok.csv', 'csv', 'importing', now() - interval '1 minute', now() - interval '1 minute')
       returning id::text, source_url as kind`,
    );
    await client.query(
      "insert into ingest_runs (id, status, created_at, started_at) values ('2026-11-01', 'indexing', now() - interval '1 hour', now() - interval '1 hour')",
    );
    const [queued, importing, healthy] = ids.rows.map((r) => `import/${r.id}`);
    // The healthy one's workflow is running.
    await client.query(
      "select app.rpc_call('promise.create', jsonb_build_object('id', $1::text, 'timeoutAt', 9999999999999))",
      [healthy],
    );
    const { rows } = await client.query<{ workflow_id: string; status: string; why: string }>(
      query("03-stuck-runs.sql"),
    );
    const why = Object.fromEntries(rows.map((r) => [r.workflow_id, r.why]));
    expect(why[queued!]).toBe("queued for over 5 minutes: the webhook never started it");
    expect(why[importing!]).toBe(
      `its workflow ended (no durable record) but the row did not: select public.retry_workflow('${importing}')`,
    );
    expect(why["ingest/2026-11-01"]).toBe(
      "its workflow ended (no durable record) but the row did not: select public.retry_workflow('ingest/2026-11-01')",
    );
    expect(why[healthy!]).toBeUndefined();
  });
});

describe("01-recent-runs.sql", () => {
  it("shows a sub-second duration instead of 00:00:00", async () => {
    await client.query(
      `insert into import_jobs (source_url, format, status, created_at, started_at, finished_at)
       values ('file://fast.csv', 'csv', 'succeeded', now(), now(), now() + interval '0.25 seconds')`,
    );
    const { rows } = await client.query<{ duration: { milliseconds?: number } }>(query("01-recent-runs.sql"));
    expect(rows.some((r) => r.duration?.milliseconds === 250)).toBe(true);
  });
});
