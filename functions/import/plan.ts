// Where each batch's records lie in the source, as staging found them: import_batches rows carry the
// byte range, the first record's line, the record count and the SHA-256 of the range. Written by
// staging a page at a time and read by the batch steps a page at a time, so neither holds the plan of
// a job with millions of batches.
import type pg from "pg";
import { OneInFlight } from "./in-flight.ts";

export interface BatchPlan {
  index: number;
  start: number;
  end: number;
  firstLine: number;
  rows: number;
  checksum: Buffer;
}

const PAGE = 1000;

// A batch already done (a job an earlier version staged, restaged for its unfinished batches) keeps
// its status and counts and gets its range, so the batch steps read past it.
const INSERT = `
insert into public.import_batches (job_id, batch_index, byte_start, byte_end, first_line, rows, checksum)
select $1, i, s, e, l, r, c
  from unnest($2::int[], $3::bigint[], $4::bigint[], $5::int[], $6::int[], $7::bytea[]) as t(i, s, e, l, r, c)
on conflict (job_id, batch_index) do update
  set byte_start = excluded.byte_start, byte_end = excluded.byte_end, first_line = excluded.first_line,
      checksum = excluded.checksum`;

/** Collects plans during staging and inserts them a page at a time, one insert in flight. */
export class PlanWriter {
  private page: BatchPlan[] = [];
  private readonly writes = new OneInFlight();
  private readonly client: pg.ClientBase;
  private readonly jobId: string;

  constructor(client: pg.ClientBase, jobId: string) {
    this.client = client;
    this.jobId = jobId;
  }

  async add(plan: BatchPlan): Promise<void> {
    this.page.push(plan);
    if (this.page.length >= PAGE) await this.flush();
  }

  /** Sends what is left and waits for every insert. */
  async end(): Promise<void> {
    await this.flush();
    await this.writes.drain();
  }

  private async flush(): Promise<void> {
    const p = this.page;
    this.page = [];
    if (p.length === 0) return;
    await this.writes.start(() =>
      this.client.query(INSERT, [
        this.jobId,
        p.map((x) => x.index),
        p.map((x) => x.start),
        p.map((x) => x.end),
        p.map((x) => x.firstLine),
        p.map((x) => x.rows),
        p.map((x) => x.checksum),
      ]),
    );
  }
}

interface PlanRow {
  batch_index: number;
  byte_start: string;
  byte_end: string;
  first_line: number;
  rows: number;
  checksum: Buffer;
}

/** The plans of batch `from` and every later one, in order. */
export async function* readPlans(pool: pg.Pool, jobId: string, from: number): AsyncGenerator<BatchPlan> {
  for (let next = from; ; ) {
    const { rows } = await pool.query<PlanRow>(
      `select batch_index, byte_start, byte_end, first_line, rows, checksum from public.import_batches
        where job_id = $1 and batch_index >= $2 order by batch_index limit $3`,
      [jobId, next, PAGE],
    );
    for (const r of rows) {
      if (r.byte_start === null) {
        throw new Error(
          `batch ${r.batch_index} of import job ${jobId} has no byte range; stage the job again`,
        );
      }
      yield {
        index: r.batch_index,
        start: Number(r.byte_start),
        end: Number(r.byte_end),
        firstLine: r.first_line,
        rows: r.rows,
        checksum: r.checksum,
      };
    }
    if (rows.length < PAGE) return;
    next = rows[rows.length - 1]!.batch_index + 1;
  }
}
