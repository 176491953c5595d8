// SIGKILL at three kill points (during staging, mid-batch, between batches). After a fresh worker
// finishes the job, an audit trigger on contacts proves every valid row was written exactly once and
// import_batches proves the batches before the kill did not run again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type LoopbackServer, startLoopbackServer } from "../support/http-server.ts";
import { contactsCsv, effects, type Harness, importHarness, uid } from "../support/import/harness.ts";

const ROWS = 20_000;
const BATCH = 2_000;
const BATCHES = ROWS / BATCH;
const INVALID_EVERY = 50;
const INVALID = ROWS / INVALID_EVERY;

let h: Harness;
beforeAll(async () => {
  h = await importHarness("import_durability");
});
afterAll(async () => {
  await h?.close();
});

// Each test has its own worker group, so a test's recovery never waits on workers an earlier test killed.
function groupWorker(group: string) {
  return h.worker({ RESONATE_GROUP: group });
}

async function start(jobId: string, group: string): Promise<void> {
  await h.starter.beginRpc(`import/${jobId}`, "importJob", jobId, h.starter.options({ target: group }));
}

async function batches(jobId: string) {
  const { rows } = await h.pool.query<{ batch_index: number; status: string; attempts: number }>(
    "select batch_index, status, attempts from public.import_batches where job_id = $1 order by batch_index",
    [jobId],
  );
  return rows;
}

/** Backends sleeping in the injected delay: every batch calls the fault point, only the chosen one sleeps. */
async function sleepingIn(like: string): Promise<number> {
  const { rows } = await h.pool.query<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity
     where datname = current_database() and state = 'active' and wait_event = 'PgSleep' and query like $1`,
    [like],
  );
  return rows[0]!.n;
}

/** Everything that must hold once a killed-and-resumed job has finished. */
async function expectExactlyOnce(jobId: string) {
  const job = await h.waitFinished(jobId, RECOVERY_BUDGET_MS - 20_000);
  expect(job).toMatchObject({
    status: "partially_succeeded",
    total_rows: ROWS,
    imported_rows: ROWS - INVALID,
    failed_rows: INVALID,
    skipped_rows: 0,
    batches_total: BATCHES,
    batches_done: BATCHES,
  });
  const fx = await effects(h.pool, jobId);
  expect(fx, "every valid row written once, none twice, none updated").toEqual({
    inserts: ROWS - INVALID,
    updates: 0,
    maxPerEmail: 1,
  });
  // Every record in exactly one batch, and nothing kept for resuming once the job is done.
  const counts = await h.pool.query<{ staged: number; errors: number; kept: number }>(
    `select (select sum(rows)::int from public.import_batches where job_id = $1) as staged,
            (select count(*)::int from public.import_errors where job_id = $1) as errors,
            (select count(*)::int from public.import_source_chunks where job_id = $1)
              + (select count(*)::int from public.import_sources where job_id = $1) as kept`,
    [jobId],
  );
  expect(counts.rows[0]).toEqual({ staged: ROWS, errors: INVALID, kept: 0 });
  return batches(jobId);
}

// Resuming waits for the dead worker's task lease (3 s here), then the new worker takes the task over
// within a tick; a whole test takes 5-8 s. The budget is for a machine loaded by other suites.
const RECOVERY_BUDGET_MS = 150_000;

describe("a worker SIGKILLed at any moment", () => {
  it(
    "during staging: staging runs again from the start and every batch runs once",
    async () => {
      const csv = contactsCsv(ROWS, uid(), { invalidEvery: INVALID_EVERY });
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      let served = 0;
      let partSent = false;
      // The first download stalls after 40% of the file, so the kill lands while staging is in progress.
      const server: LoopbackServer = await startLoopbackServer(async (_req, res) => {
        served++;
        res.writeHead(200, { "content-type": "text/csv" });
        if (served === 1) {
          res.write(csv.slice(0, Math.floor(csv.length * 0.4)));
          partSent = true;
          await held;
        }
        res.end(served === 1 ? "" : csv);
      });
      try {
        const group = `${h.group}-${uid()}`;
        const first = groupWorker(group);
        await first.waitForOutput('"started"');
        const id = await h.insertJob({ source_url: `${server.url}/contacts.csv`, batch_size: BATCH });
        await start(id, group);
        await eventually(
          "part of the file to be staged",
          async () => (partSent && (await h.job(id)).status === "staging" ? true : undefined),
          30_000,
        );
        // Staging reads what was sent, then waits for the rest.
        await new Promise((r) => setTimeout(r, 500));
        expect((await h.job(id)).status).toBe("staging");
        await first.kill("SIGKILL");
        release();
        const second = groupWorker(group);
        const after = await expectExactlyOnce(id);
        expect(after.every((b) => b.status === "done" && b.attempts === 1)).toBe(true);
        expect(served).toBe(2);
        await second.kill("SIGTERM");
      } finally {
        release();
        await server.close();
      }
    },
    RECOVERY_BUDGET_MS,
  );

  it(
    "mid-batch (writes done, not committed): that batch re-runs once, earlier ones never",
    async () => {
      const k = 3;
      const group = `${h.group}-${uid()}`;
      const first = groupWorker(group);
      await first.waitForOutput('"started"');
      const id = await h.insertJob({
        source_url: h.writeFile(
          `mid-${uid()}.csv`,
          contactsCsv(ROWS, uid(), { invalidEvery: INVALID_EVERY }),
        ),
        batch_size: BATCH,
      });
      await h.pool.query(
        "insert into app.import_fault_injections (job_id, batch_index, delay_inside_ms) values ($1, $2, 4000)",
        [id, k],
      );
      await start(id, group);
      await eventually(
        "batch 3 to sit inside its transaction",
        async () => ((await sleepingIn("%import_fault_point%'inside'%")) > 0 ? true : undefined),
        30_000,
      );
      await first.kill("SIGKILL");
      const before = await batches(id);
      expect(before.slice(0, k).every((b) => b.status === "done")).toBe(true);
      expect(before[k]).toMatchObject({ status: "running", attempts: 1 });
      const fxBefore = await effects(h.pool, id);
      expect(fxBefore.inserts, "the uncommitted batch left nothing").toBe(
        k * (BATCH - BATCH / INVALID_EVERY),
      );

      const second = groupWorker(group);
      const after = await expectExactlyOnce(id);
      for (const b of after)
        expect(b, `batch ${b.batch_index}`).toMatchObject({
          status: "done",
          attempts: b.batch_index === k ? 2 : 1,
        });
      await second.kill("SIGTERM");
    },
    RECOVERY_BUDGET_MS,
  );

  it(
    "between batches: resumes at the first unfinished batch",
    async () => {
      const k = 6;
      const group = `${h.group}-${uid()}`;
      const first = groupWorker(group);
      await first.waitForOutput('"started"');
      const id = await h.insertJob({
        source_url: h.writeFile(
          `between-${uid()}.csv`,
          contactsCsv(ROWS, uid(), { invalidEvery: INVALID_EVERY }),
        ),
        batch_size: BATCH,
      });
      await h.pool.query(
        "insert into app.import_fault_injections (job_id, batch_index, delay_before_ms) values ($1, $2, 4000)",
        [id, k],
      );
      await start(id, group);
      await eventually(
        "the worker to pause before batch 6",
        async () => ((await sleepingIn("%import_fault_point%'before'%")) > 0 ? true : undefined),
        30_000,
      );
      await first.kill("SIGKILL");
      const before = await batches(id);
      expect(before.filter((b) => b.status === "done").map((b) => b.batch_index)).toEqual([0, 1, 2, 3, 4, 5]);
      expect((await h.job(id)).batches_done).toBe(k);

      const second = groupWorker(group);
      const after = await expectExactlyOnce(id);
      // Batch k had only been marked started (attempt 1) when the worker died; nothing else re-ran.
      for (const b of after)
        expect(b, `batch ${b.batch_index}`).toMatchObject({
          status: "done",
          attempts: b.batch_index === k ? 2 : 1,
        });
      await second.kill("SIGTERM");
    },
    RECOVERY_BUDGET_MS,
  );
});
