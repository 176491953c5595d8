// Shared setup for the import integration tests: an own database (with an audit trigger on contacts
// that counts every committed write), a folder of source files, real worker processes in an own
// Resonate group, and a client that starts `importJob` workflows the way the Edge Function does.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Resonate } from "@resonatehq/sdk";
import pg from "pg";
import type { JobRow as ImportJobRow } from "../../../functions/import/db.ts";
import { createResonate, toWorkers } from "../../../functions/shared/resonate-client.ts";
import { STACK_DIR } from "../../../scripts/stack/layout.ts";
import { dropDatabase, freshDatabase } from "../db.ts";
import { eventually } from "../http-server.ts";
import { startWorker, type WorkerProcess } from "../worker.ts";

export const uid = () => Math.random().toString(36).slice(2, 10);

/** The job columns the tests read. */
export type JobRow = Pick<
  ImportJobRow,
  | "id"
  | "status"
  | "total_rows"
  | "imported_rows"
  | "skipped_rows"
  | "failed_rows"
  | "batches_total"
  | "batches_done"
  | "error"
>;

export interface Harness {
  url: string;
  pool: pg.Pool;
  group: string;
  fileRoot: string;
  starter: Resonate;
  worker(env?: Record<string, string>): WorkerProcess;
  writeFile(name: string, content: string | Uint8Array): string;
  /** Inserts a job row and starts its workflow (as the webhook would); returns the job id. */
  startJob(fields: Record<string, unknown>): Promise<string>;
  insertJob(fields: Record<string, unknown>): Promise<string>;
  job(id: string): Promise<JobRow>;
  waitFinished(id: string, timeoutMs?: number): Promise<JobRow>;
  /** Waits for the job to reach `status`, e.g. a retried job that starts out failed. */
  waitStatus(id: string, status: string, timeoutMs?: number): Promise<JobRow>;
  /** Waits for workflow `import/<id>` itself to settle (its job row turns final a step earlier). */
  waitWorkflowSettled(id: string): Promise<string>;
  close(opts?: { dropDatabase?: boolean }): Promise<void>;
}

// Contacts writes are counted per email and operation, committed ones only (the audit row rolls back
// with its transaction): "applied twice" shows up as a second row for one email.
const AUDIT = `
create table contact_effects (email text not null, op text not null, job_id uuid, at timestamptz default clock_timestamp());
create function record_contact_effect() returns trigger language plpgsql as $$
begin
  insert into contact_effects (email, op, job_id) values (new.email, tg_op, new.import_job_id);
  return null;
end $$;
create trigger contact_effects after insert or update on public.contacts
  for each row execute function record_contact_effect();`;

export async function importHarness(dbName: string): Promise<Harness> {
  const url = await freshDatabase(dbName);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on("error", () => {});
  await pool.query(AUDIT);
  const group = `import-${uid()}`;
  const fileRoot = join(STACK_DIR, "test-imports", dbName);
  rmSync(fileRoot, { recursive: true, force: true });
  mkdirSync(fileRoot, { recursive: true });
  const starter = createResonate({
    databaseUrl: url,
    group: `${group}-starter`,
    resonate: { serverUrl: undefined, group: `${group}-starter`, ttlMs: 10_000, tickMs: 100 },
  });
  const workers: WorkerProcess[] = [];

  const insertJob = async (fields: Record<string, unknown>) => {
    const cols = Object.keys(fields);
    const { rows } = await pool.query<{ id: string }>(
      `insert into public.import_jobs (${cols.join(", ")}) values (${cols.map((_, i) => `$${i + 1}`).join(", ")}) returning id`,
      Object.values(fields),
    );
    return rows[0]!.id;
  };
  const job = async (id: string) => {
    const { rows } = await pool.query<JobRow>("select * from public.import_jobs where id = $1", [id]);
    return rows[0]!;
  };

  return {
    url,
    pool,
    group,
    fileRoot,
    starter,
    worker(env = {}) {
      const w = startWorker({
        DATABASE_URL: url,
        RESONATE_GROUP: group,
        RESONATE_TTL_MS: "3000",
        RESONATE_TICK_MS: "100",
        IMPORT_FILE_ROOT: fileRoot,
        IMPORT_BATCH_RETRIES: "3",
        IMPORT_BATCH_RETRY_DELAY_MS: "100",
        ...env,
      });
      workers.push(w);
      return w;
    },
    writeFile(name, content) {
      writeFileSync(join(fileRoot, name), content);
      return `file://${name}`;
    },
    insertJob,
    async startJob(fields) {
      const id = await insertJob(fields);
      await starter.beginRpc(`import/${id}`, "importJob", id, toWorkers(starter, group));
      return id;
    },
    job,
    waitFinished(id, timeoutMs = 60_000) {
      return eventually(
        `import job ${id} to finish`,
        async () => {
          const j = await job(id);
          return ["succeeded", "partially_succeeded", "failed"].includes(j.status) ? j : undefined;
        },
        timeoutMs,
      );
    },
    waitStatus(id, status, timeoutMs = 30_000) {
      return eventually(
        `import job ${id} to be ${status}`,
        async () => {
          const j = await job(id);
          return j.status === status ? j : undefined;
        },
        timeoutMs,
      );
    },
    waitWorkflowSettled(id) {
      return eventually(
        `workflow import/${id} to settle`,
        async () => {
          const { rows } = await pool.query<{ state: string }>(
            "select state from resonate.promises where id = $1",
            [`import/${id}`],
          );
          return rows[0] && rows[0].state !== "pending" ? rows[0].state : undefined;
        },
        30_000,
      );
    },
    async close({ dropDatabase: drop = true } = {}) {
      await Promise.all(workers.map((w) => w.kill("SIGKILL")));
      await starter.stop();
      await pool.end();
      if (drop) await dropDatabase(dbName);
      rmSync(fileRoot, { recursive: true, force: true });
    },
  };
}

/** A contacts CSV of `n` valid rows (emails c<i>@<tag>.test) and, optionally, invalid rows mixed in. */
export function contactsCsv(n: number, tag: string, opts: { invalidEvery?: number } = {}): string {
  const lines = ["email,name,company,country,phone"];
  for (let i = 0; i < n; i++) {
    if (opts.invalidEvery && i % opts.invalidEvery === opts.invalidEvery - 1)
      lines.push(`not-an-email-${i},Bad ${i},,,`);
    else lines.push(`c${i}@${tag}.test,Contact ${i},Acme,DE,+49 30 ${1000000 + i}`);
  }
  return `${lines.join("\n")}\n`;
}

export async function effects(
  pool: pg.Pool,
  jobId: string,
): Promise<{ inserts: number; updates: number; maxPerEmail: number }> {
  const { rows } = await pool.query<{ inserts: number; updates: number; max_per_email: number }>(
    // One pass over the job's rows: a self-join here was planned as a nested loop whenever autovacuum had
    // not yet analyzed the growing table, which took over a minute at 20k rows.
    `select count(*) filter (where op = 'INSERT')::int as inserts, count(*) filter (where op = 'UPDATE')::int as updates,
            coalesce(max(per_email), 0)::int as max_per_email
     from (select op, count(*) over (partition by email) as per_email from contact_effects where job_id = $1) e`,
    [jobId],
  );
  const r = rows[0]!;
  return { inserts: r.inserts, updates: r.updates, maxPerEmail: r.max_per_email };
}
