// Source bytes kept for resuming are deleted when a job finishes; the daily job deletes what a job
// marked finished by hand left a day later, and failed jobs keep theirs for retry_workflow. The
// function runs on a database of its own; the daily job is checked on the stack's database, the one
// pg_cron runs in.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseUrl, dropDatabase, freshDatabase } from "../support/db.ts";

const DB = "import_cleanup";
let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: await freshDatabase(DB), max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await dropDatabase(DB);
});

async function job(status: string, finishedAgo: string | null): Promise<string> {
  const { rows } = await pool.query<{ id: string }>(
    `insert into public.import_jobs (source_url, format, status, finished_at)
     values ('file://x.csv', 'csv', $1, now() - $2::interval) returning id`,
    [status, finishedAgo],
  );
  const id = rows[0]!.id;
  await pool.query(
    `insert into public.import_source_chunks (job_id, chunk_no, bytes)
     select $1, g, 'email,name' from generate_series(0, 9) g`,
    [id],
  );
  return id;
}

describe("app.delete_kept_import_sources", () => {
  it("deletes the kept source bytes of jobs that finished over a day ago, and only those", async () => {
    const old = {
      succeeded: await job("succeeded", "2 days"),
      partial: await job("partially_succeeded", "25 hours"),
    };
    const keep = {
      recent: await job("succeeded", "1 hour"),
      failed: await job("failed", "3 days"),
      importing: await job("importing", null),
    };
    const { rows } = await pool.query<{ n: number }>("select app.delete_kept_import_sources() as n");
    expect(rows[0]!.n).toBe(20);
    const left = async (id: string) =>
      (
        await pool.query<{ n: number }>(
          "select count(*)::int as n from public.import_source_chunks where job_id = $1",
          [id],
        )
      ).rows[0]!.n;
    for (const id of Object.values(old)) expect(await left(id)).toBe(0);
    for (const id of Object.values(keep)) expect(await left(id)).toBe(10);
    expect((await pool.query<{ n: number }>("select app.delete_kept_import_sources() as n")).rows[0]!.n).toBe(
      0,
    );
  });

  it("runs daily from pg_cron on the stack's database", async () => {
    const c = new pg.Client({ connectionString: databaseUrl("postgres") });
    await c.connect();
    try {
      const { rows } = await c.query(
        "select schedule, command from cron.job where jobname = 'import-kept-sources-cleanup'",
      );
      expect(rows).toEqual([
        { schedule: "47 3 * * *", command: "select app.delete_kept_import_sources(interval '1 day')" },
      ]);
    } finally {
      await c.end();
    }
  });
});
