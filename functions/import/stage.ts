// Step 1 of an import: read the source once and record where each batch lies in it (see plan.ts), the
// lines that are not records (import_errors), and what a batch step needs to read it again (pin.ts):
// a source that cannot be read again has its raw bytes kept as they stream past (spool.ts). Nothing per
// record is written here; a batch step reads its records from the source itself. Staging again after a
// crash starts over: nothing it wrote is used before it commits the job as `importing`.
import { inTransaction, withTransaction } from "../shared/transaction.ts";
import type { ErrorRows } from "./batch-input.ts";
import { loadJob, markJobFailed, TERMINAL } from "./db.ts";
import { gunzipIfCompressed, isGzip } from "./decompress.ts";
import type { ImportDeps } from "./deps.ts";
import { InputError, JobGoneError } from "./errors.ts";
import { OneInFlight } from "./in-flight.ts";
import { type JobSpec, parseJobSpec } from "./job-spec.ts";
import { LineTap } from "./line-tap.ts";
import { readLines } from "./lines.ts";
import { CsvParser, JsonLinesParser, type ParsedItem, type RecordParser } from "./parse.ts";
import { savePin } from "./pin.ts";
import { PlanWriter } from "./plan.ts";
import { BatchPlanner } from "./planner.ts";
import { openSource } from "./source.ts";
import { SpoolWriter } from "./spool.ts";
import { getTarget } from "./targets/registry.ts";

export interface StageResult {
  ok: boolean;
  batches: number;
}

const ERROR_CHUNK = 5000;

// See ImportDeps.asyncCommit: if Postgres dies before the step's result is recorded, it stages again.
const ASYNC_COMMIT = "set synchronous_commit = off";
const SYNC_COMMIT = "reset synchronous_commit";

const INSERT_ERRORS = `
insert into public.import_errors (job_id, line_no, field, message, batch_index)
select $1, l, f, m, null from unnest($2::int[], $3::text[], $4::text[]) as t(l, f, m)
on conflict (job_id, line_no, field) do nothing`;

export async function stageJob(deps: ImportDeps, jobId: string): Promise<StageResult> {
  const { pool, log } = deps;
  const job = await loadJob(pool, jobId);
  if (!job) {
    log.warn("import job not found", { job_id: jobId });
    return { ok: false, batches: 0 };
  }
  // Staging already committed (the crash came before the step's result was recorded), or a retry of a
  // finished job: the batches that are done only report their counts.
  if (job.status === "importing" || (TERMINAL.includes(job.status) && job.status !== "failed")) {
    return { ok: true, batches: await batchesOf(deps, jobId) };
  }
  // A failed job runs again only when a new workflow is started for it (retry_workflow): one that failed
  // at a batch resumes at its unfinished batches; one that failed earlier is staged again.
  if (job.status === "failed" && job.staged_at !== null) {
    await reopen(deps, jobId);
    return { ok: true, batches: await batchesOf(deps, jobId) };
  }

  const spec = parseJobSpec({ ...job });
  if (!spec.ok) {
    await markJobFailed(pool, jobId, spec.error);
    return { ok: false, batches: 0 };
  }
  await pool.query(
    `update public.import_jobs
     set status = 'staging', error = null, finished_at = null, started_at = coalesce(started_at, now()), updated_at = now()
     where id = $1 and status in ('queued', 'staging', 'failed')`,
    [jobId],
  );
  try {
    await clearStaging(deps, jobId);
    const staged = await stageSource(deps, spec.value);
    log.info("import staged", { job_id: jobId, ...staged });
    return { ok: true, batches: staged.batches };
  } catch (err) {
    if (err instanceof InputError) {
      await markJobFailed(pool, jobId, err.message);
      log.warn("import source rejected", { job_id: jobId, error: err.message });
      return { ok: false, batches: 0 };
    }
    if (!(await loadJob(pool, jobId))) {
      throw new JobGoneError(`import job ${jobId} was deleted while it was staged; nothing was imported`);
    }
    // Kept on the row so the job shows why it is retrying (and why it failed, if it runs out).
    await pool
      .query("update public.import_jobs set error = $2, updated_at = now() where id = $1", [
        jobId,
        `staging: ${(err as Error).message}`,
      ])
      .catch(() => {});
    throw err;
  }
}

async function batchesOf(deps: ImportDeps, jobId: string): Promise<number> {
  const { rows } = await deps.pool.query<{ n: number }>(
    "select count(*)::int as n from public.import_batches where job_id = $1",
    [jobId],
  );
  return rows[0]!.n;
}

/** What an earlier, unfinished staging of the job left: no batch ran on it (batches start only once
 *  staging commits), and the source may have changed since. Done batches (of a job an earlier version
 *  staged) stay. */
async function clearStaging(deps: ImportDeps, jobId: string): Promise<void> {
  await deps.pool.query(
    `with batches as (delete from public.import_batches where job_id = $1 and status <> 'done'),
          chunks as (delete from public.import_source_chunks where job_id = $1),
          errors as (delete from public.import_errors where job_id = $1 and batch_index is null)
     delete from public.import_sources where job_id = $1`,
    [jobId],
  );
}

async function reopen(deps: ImportDeps, jobId: string): Promise<void> {
  await withTransaction(deps.pool, async (client) => {
    await client.query(
      "update public.import_batches set status = 'pending', finished_at = null where job_id = $1 and status = 'failed'",
      [jobId],
    );
    await client.query(
      `update public.import_jobs set status = 'importing', error = null, finished_at = null, updated_at = now()
       where id = $1 and status = 'failed'`,
      [jobId],
    );
  });
  deps.log.info("import reopened", { job_id: jobId });
}

function parserFor(spec: JobSpec): RecordParser {
  const target = getTarget(spec.target);
  if (!target) throw new InputError(`target ${spec.target} is unknown`);
  return spec.format === "csv" ? new CsvParser(target.requiredFields) : new JsonLinesParser();
}

interface Staged {
  records: number;
  errors: number;
  batches: number;
  spooled: boolean;
}

/** Reads the source through, writing batch plans, unreadable lines and (when it cannot be read again)
 *  its raw bytes on one connection, then commits the job as `importing` with its totals. */
async function stageSource(deps: ImportDeps, spec: JobSpec): Promise<Staged> {
  const parser = parserFor(spec);
  const source = await openSource(spec.sourceUrl, { fileRoot: deps.fileRoot, local: deps.local });
  const spooled = !source.identity.rereadable;
  const client = await deps.pool.connect();
  let failure: Error | undefined;
  try {
    if (deps.asyncCommit) await client.query(ASYNC_COMMIT);
    const spool = spooled ? new SpoolWriter(client, spec.id) : undefined;
    const plans = new PlanWriter(client, spec.id);
    let head = Buffer.alloc(0);
    let size = 0;
    async function* raw(): AsyncGenerator<Uint8Array> {
      for await (const c of source) {
        if (head.length < 2) head = Buffer.concat([head, c.subarray(0, 2 - head.length)]);
        size += c.length;
        await spool?.write(c);
        yield c;
      }
    }
    const tap = new LineTap();
    const planner = new BatchPlanner(spec.batchSize, tap);
    let errors = 0;
    let errs: ErrorRows = { l: [], f: [], m: [] };
    const errorWrites = new OneInFlight();
    const flushErrors = async () => {
      const e = errs;
      errs = { l: [], f: [], m: [] };
      if (e.l.length > 0)
        await errorWrites.start(() => client.query(INSERT_ERRORS, [spec.id, e.l, e.f, e.m]));
    };
    const take = async (items: ParsedItem[]) => {
      for (const plan of planner.take(items)) await plans.add(plan);
      for (const it of items) {
        if (it.kind !== "error") continue;
        errs.l.push(it.lineNo);
        errs.f.push(null);
        errs.m.push(it.message);
        errors++;
      }
      if (errs.l.length >= ERROR_CHUNK) await flushErrors();
    };
    for await (const lines of readLines(tap.wrap(gunzipIfCompressed(raw())))) {
      await take(parser.push(lines));
      tap.settle(parser.pendingFrom ?? lines[lines.length - 1]!.no + 1);
    }
    await take(parser.end());
    const last = planner.finish();
    if (last) await plans.add(last);
    await flushErrors();
    await errorWrites.drain();
    await spool?.end();
    await plans.end();
    const records = planner.records;
    if (records === 0 && errors === 0) {
      throw new InputError(
        spec.format === "csv"
          ? "the file has a header row but no records; add at least one record"
          : "the file has no records; add one JSON object per line",
      );
    }
    const batches = planner.batches;
    await inTransaction(client, async () => {
      await savePin(client, spec.id, {
        gzip: isGzip(head),
        spooled,
        validator: source.identity.validator,
        size,
        header: parser instanceof CsvParser ? [...(parser.columns ?? [])] : null,
      });
      await client.query(
        `update public.import_jobs
         set status = 'importing', total_rows = $2, failed_rows = $3, batches_total = $4, error = null,
             staged_at = clock_timestamp(), updated_at = clock_timestamp()
         where id = $1 and status = 'staging'`,
        [spec.id, records + errors, errors, batches],
      );
    });
    return { records, errors, batches, spooled };
  } catch (err) {
    failure = err as Error;
    throw err;
  } finally {
    if (!failure && deps.asyncCommit) await client.query(SYNC_COMMIT).catch(() => {});
    // A connection that failed mid-write is discarded rather than returned to the pool.
    client.release(failure);
  }
}
