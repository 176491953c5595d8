// Step 1 of an import: stream the source into import_rows. Memory holds one chunk of records at a
// time; every write is keyed by (job_id, line_no), so re-running the step after a crash re-reads the
// file and adds only what the first run did not get to.
import { batchCount, batchOf } from "./batches.ts";
import { gunzipIfCompressed } from "./decompress.ts";
import type { ImportDeps } from "./deps.ts";
import { InputError, JobGoneError } from "./errors.ts";
import { type JobSpec, parseJobSpec } from "./job-spec.ts";
import { loadJob, markJobFailed, TERMINAL } from "./jobs.ts";
import { readLines } from "./lines.ts";
import { CsvParser, JsonLinesParser, type ParsedItem, type RecordParser } from "./parse.ts";
import { openSource } from "./source.ts";
import { getTarget } from "./targets/registry.ts";

export interface StageResult {
  ok: boolean;
  batches: number;
}

const CHUNK_RECORDS = 5000;

// One JSON array of [line_no, batch_index, raw] per chunk: Postgres parses it once and splits it into
// jsonb values, about a quarter faster than a text[] of per-row JSON documents (measured).
const INSERT_ROWS = `
insert into public.import_rows (job_id, line_no, batch_index, raw)
select $1, (e ->> 0)::int, (e ->> 1)::int, e -> 2 from jsonb_array_elements($2::jsonb) as e
on conflict (job_id, line_no) do nothing`;

// See ImportDeps.asyncCommit: if Postgres dies before the step's result is recorded, it stages again.
const ASYNC_COMMIT = "set synchronous_commit = off";
const SYNC_COMMIT = "reset synchronous_commit";

export const INSERT_ERRORS = `
insert into public.import_errors (job_id, line_no, field, message, batch_index)
select $1, l, f, m, $5 from unnest($2::int[], $3::text[], $4::text[]) as t(l, f, m)
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
    return { ok: true, batches: job.batches_total ?? 0 };
  }
  // A failed job runs again only when a new workflow is started for it (retry_workflow): one that failed
  // at a batch resumes at its unfinished batches; one that failed earlier is staged again.
  if (job.status === "failed" && job.staged_at !== null) {
    await reopen(deps, jobId);
    return { ok: true, batches: job.batches_total ?? 0 };
  }

  // Retried after failing before staging finished: the source may have changed since, so what the earlier
  // run staged goes. No batch ran yet (batches start only after staging commits), so nothing else refers to it.
  if (job.status === "failed") {
    await pool.query("delete from public.import_rows where job_id = $1", [jobId]);
    await pool.query("delete from public.import_errors where job_id = $1 and batch_index is null", [jobId]);
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
    const { records, errors } = await stageRows(deps, spec.value);
    const batches = batchCount(records, spec.value.batchSize);
    const client = await pool.connect();
    try {
      await client.query("begin");
      await client.query(
        `insert into public.import_batches (job_id, batch_index, rows)
         select $1, g, least($3::int, $2::int - g * $3::int) from generate_series(0, $4::int - 1) g
         on conflict (job_id, batch_index) do nothing`,
        [jobId, records, spec.value.batchSize, batches],
      );
      await client.query(
        `update public.import_jobs
         set status = 'importing', total_rows = $2, failed_rows = $3, batches_total = $4, error = null,
             staged_at = clock_timestamp(), updated_at = clock_timestamp()
         where id = $1 and status = 'staging'`,
        [jobId, records + errors, errors, batches],
      );
      await client.query("commit");
    } catch (err) {
      await client.query("rollback").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
    log.info("import staged", { job_id: jobId, records, errors, batches });
    return { ok: true, batches };
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

async function reopen(deps: ImportDeps, jobId: string): Promise<void> {
  const client = await deps.pool.connect();
  try {
    await client.query("begin");
    await client.query(
      "update public.import_batches set status = 'pending', finished_at = null where job_id = $1 and status = 'failed'",
      [jobId],
    );
    await client.query(
      `update public.import_jobs set status = 'importing', error = null, finished_at = null, updated_at = now()
       where id = $1 and status = 'failed'`,
      [jobId],
    );
    await client.query("commit");
  } catch (err) {
    await client.query("rollback").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  deps.log.info("import reopened", { job_id: jobId });
}

function parserFor(spec: JobSpec): RecordParser {
  const target = getTarget(spec.target);
  if (!target) throw new InputError(`target ${spec.target} is unknown`);
  return spec.format === "csv" ? new CsvParser(target.requiredFields) : new JsonLinesParser();
}

async function stageRows(deps: ImportDeps, spec: JobSpec): Promise<{ records: number; errors: number }> {
  const parser = parserFor(spec);
  const source = await openSource(spec.sourceUrl, {
    fileRoot: deps.fileRoot,
    local: deps.local,
  });
  // Two connections, each with one insert in flight while the next chunk is parsed: Postgres does the
  // inserting on its own cores while this process parses. Waiting for a connection's previous insert
  // before reusing it bounds memory to a few chunks.
  const clients = [await deps.pool.connect(), await deps.pool.connect()];
  if (deps.asyncCommit) for (const c of clients) await c.query(ASYNC_COMMIT);
  const inFlight: Promise<unknown>[] = [Promise.resolve(), Promise.resolve()];
  let turn = 0;
  let records = 0;
  let errors = 0;
  let rows: [number, number, Record<string, unknown>][] = [];
  let errs: { l: number[]; f: (string | null)[]; m: string[] } = { l: [], f: [], m: [] };
  const flush = async () => {
    const slot = turn++ % clients.length;
    const client = clients[slot]!;
    await inFlight[slot];
    const r = rows;
    const e = errs;
    rows = [];
    errs = { l: [], f: [], m: [] };
    inFlight[slot] = Promise.all([
      r.length > 0 ? client.query(INSERT_ROWS, [spec.id, JSON.stringify(r)]) : undefined,
      e.l.length > 0 ? client.query(INSERT_ERRORS, [spec.id, e.l, e.f, e.m, null]) : undefined,
    ]);
  };
  const take = async (items: ParsedItem[]) => {
    for (const it of items) {
      if (it.kind === "record") {
        rows.push([it.lineNo, batchOf(records, spec.batchSize), it.raw]);
        records++;
      } else {
        errs.l.push(it.lineNo);
        errs.f.push(null);
        errs.m.push(it.message);
        errors++;
      }
    }
    if (rows.length + errs.l.length >= CHUNK_RECORDS) await flush();
  };
  let failure: Error | undefined;
  try {
    for await (const lines of readLines(gunzipIfCompressed(source))) await take(parser.push(lines));
    await take(parser.end());
    await flush();
    await Promise.all(inFlight);
  } catch (err) {
    failure = err as Error;
    await Promise.allSettled(inFlight);
    throw err;
  } finally {
    for (const c of clients) {
      const reset =
        failure || !deps.asyncCommit ? Promise.resolve() : c.query(SYNC_COMMIT).then(() => undefined);
      await reset.catch(() => {});
      // A connection that failed mid-insert is discarded rather than returned to the pool.
      c.release(failure);
    }
  }
  if (records === 0 && errors === 0) {
    throw new InputError(
      spec.format === "csv"
        ? "the file has a header row but no records; add at least one record"
        : "the file has no records; add one JSON object per line",
    );
  }
  return { records, errors };
}
