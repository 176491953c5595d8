-- Bulk import: insert one import_jobs row and a durable workflow ("importJob", id `import/<job id>`)
-- stages the source (reads it once and records where each batch's records lie in it), then imports it
-- batch by batch into the target table, each batch step reading its records from the source again.
-- Every table is RLS-protected with no policies: anon and authenticated see and change nothing; the
-- service role (bypassrls) and the worker (connects as the owner) do the work.

create table if not exists public.import_jobs (
  id uuid primary key default gen_random_uuid(),
  source_url text not null,
  -- 'csv' or 'jsonl'; null means "infer from the file extension". Format, target and batch_size are
  -- deliberately unconstrained here: a bad value must still produce a job row that says what to fix.
  format text,
  target text not null default 'contacts',
  -- bigint so an absurd value reaches validation instead of failing the INSERT with an overflow.
  batch_size bigint not null default 1000,
  status text not null default 'queued'
    check (status in ('queued', 'staging', 'importing', 'succeeded', 'partially_succeeded', 'failed')),
  total_rows integer,
  imported_rows integer not null default 0,
  skipped_rows integer not null default 0,
  failed_rows integer not null default 0,
  batches_total integer,
  batches_done integer not null default 0,
  -- The last error: why the job failed, or a summary of the rows that were not imported.
  error text,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  staged_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz not null default now()
);

create table if not exists public.import_batches (
  job_id uuid not null references public.import_jobs (id) on delete cascade,
  batch_index integer not null,
  status text not null default 'pending' check (status in ('pending', 'running', 'retrying', 'done', 'failed')),
  attempts integer not null default 0,
  rows integer not null,
  imported integer not null default 0,
  skipped integer not null default 0,
  failed integer not null default 0,
  error text,
  started_at timestamptz,
  finished_at timestamptz,
  -- Where the batch's records lie in the source, as staging read it: a byte range of the decompressed
  -- source (each batch's ends where the next one's begins, the last one's at the end of the source),
  -- the line of its first record, and the SHA-256 of those bytes.
  byte_start bigint,
  byte_end bigint,
  first_line integer,
  checksum bytea,
  primary key (job_id, batch_index)
);

-- One row per problem: field is null when the whole line is unreadable. batch_index is null for
-- problems found while staging (parse errors), else the batch that validated the row.
create table if not exists public.import_errors (
  job_id uuid not null references public.import_jobs (id) on delete cascade,
  line_no integer not null,
  field text,
  message text not null,
  batch_index integer,
  created_at timestamptz not null default now(),
  unique nulls not distinct (job_id, line_no, field)
);

create table if not exists public.contacts (
  id bigint generated always as identity primary key,
  email text not null unique check (email = lower(email)),
  name text not null,
  company text,
  country text,
  phone text,
  -- Which job and line last wrote the row: how a batch tells a duplicate inside its own file from an
  -- update of a contact an earlier import created.
  import_job_id uuid references public.import_jobs (id) on delete set null,
  import_line_no integer,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- What the batch steps need to read the source again: whether its bytes are gzip (then ranges count
-- decompressed bytes and a resumed read starts at the beginning), whether they were kept here, the
-- http validator a ranged request must match, and the CSV header the batches parse under.
create table if not exists public.import_sources (
  job_id uuid primary key references public.import_jobs (id) on delete cascade,
  gzip boolean not null,
  spooled boolean not null,
  -- ETag or Last-Modified of an http(s) source read again with Range and If-Range; null otherwise.
  validator text,
  -- Bytes of the source as served (before decompression).
  size bigint not null,
  header text[],
  created_at timestamptz not null default now()
);

-- The raw bytes of a source that cannot be read again, in order, in chunks of 1 MiB (the last may be
-- shorter). Deleted when the job succeeds; a failed job keeps them so that retry_workflow resumes it.
create table if not exists public.import_source_chunks (
  job_id uuid not null references public.import_jobs (id) on delete cascade,
  chunk_no integer not null,
  bytes bytea not null,
  primary key (job_id, chunk_no)
);
-- Out of line and uncompressed: gzip sources do not compress again, and the batches read them back
-- whole, so compressing on the way in only spends the database's CPU.
alter table public.import_source_chunks alter column bytes set storage external;

alter table public.import_jobs enable row level security;
alter table public.import_batches enable row level security;
alter table public.import_errors enable row level security;
alter table public.contacts enable row level security;
alter table public.import_sources enable row level security;
alter table public.import_source_chunks enable row level security;

drop trigger if exists import_jobs_webhook on public.import_jobs;
create trigger import_jobs_webhook
  after insert on public.import_jobs
  for each row execute function app.post_webhook('import-webhook');

drop trigger if exists import_jobs_guard on public.import_jobs;
create trigger import_jobs_guard
  before update on public.import_jobs
  for each row execute function app.guard_workflow_row(
    'import job', 'import',
    'source_url,format,target,batch_size',
    'status,total_rows,imported_rows,skipped_rows,failed_rows,batches_total,batches_done,error,'
      'started_at,staged_at,finished_at');

drop trigger if exists import_jobs_refuse_running_delete on public.import_jobs;
create trigger import_jobs_refuse_running_delete
  before delete on public.import_jobs
  for each row execute function app.refuse_deleting_running_row('import job', 'import');

drop trigger if exists import_jobs_refuse_reused_id on public.import_jobs;
create trigger import_jobs_refuse_reused_id
  before insert on public.import_jobs
  for each row execute function app.refuse_reused_workflow_id('import job', 'import');

-- Fault injection for tests and drills, outside the API-exposed schema. A row makes batch
-- `batch_index` of job `job_id` fail its first `fail_attempts` attempts with a real database error
-- (SQLSTATE 40001, raised inside the batch transaction after its writes, so they roll back), and/or
-- sleep on its first attempt before (`delay_before_ms`, first in the batch transaction, before any
-- write) or inside (`delay_inside_ms`, after the writes) the batch, which gives a test a window to
-- SIGKILL the worker between or mid batch.
-- With the table empty, each batch pays one indexed lookup.
create table if not exists app.import_fault_injections (
  job_id uuid not null,
  batch_index integer not null,
  fail_attempts integer not null default 0,
  delay_before_ms integer not null default 0,
  delay_inside_ms integer not null default 0,
  message text not null default 'could not serialize access due to concurrent update',
  primary key (job_id, batch_index)
);

create or replace function app.import_fault_point(p_job uuid, p_batch integer, p_phase text, p_attempt integer)
returns void
language plpgsql
set search_path = ''
as $$
declare
  f app.import_fault_injections;
begin
  select * into f from app.import_fault_injections where job_id = p_job and batch_index = p_batch;
  if not found then
    return;
  end if;
  if p_phase = 'before' and p_attempt = 1 and f.delay_before_ms > 0 then
    perform pg_sleep(f.delay_before_ms / 1000.0);
  elsif p_phase = 'inside' then
    if p_attempt = 1 and f.delay_inside_ms > 0 then
      perform pg_sleep(f.delay_inside_ms / 1000.0);
    end if;
    if p_attempt <= f.fail_attempts then
      raise exception '% (injected: batch %, attempt %)', f.message, p_batch, p_attempt
        using errcode = '40001';
    end if;
  end if;
end
$$;

revoke all on function app.import_fault_point(uuid, integer, text, integer) from public;

-- A batch's attempt count and its first statement, each one round trip, and the order in which a
-- batch, a cancel and a DELETE of the job take their locks.
--
-- Both first take the job's turn: an advisory lock on 'import/<job id>', which cancel_workflow takes
-- too (20261121000600_operations.sql). Advisory locks are granted in the order they were asked for; row locks are
-- not: when a running batch committed, the next batch could lock the job row before the cancel that
-- had been waiting for it, and so run after the cancel. Now the cancel goes first, and the next batch,
-- reading the job after its turn, finds it failed and does not start.
--
-- Then the batch locks the job row and its batch row, in the order a DELETE of the job and the cancel
-- hook (below) take them: the job row first, so they queue instead of deadlocking.

create or replace function app.import_count_attempt(p_job uuid, p_batch integer, p_async boolean)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  n integer;
begin
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('import/' || p_job, 0));
  -- See ImportDeps.asyncCommit in functions/import/deps.ts.
  perform pg_catalog.set_config('synchronous_commit',
    case when p_async then 'off' else pg_catalog.current_setting('synchronous_commit') end, true);
  update public.import_batches b
     set attempts = b.attempts + 1, status = 'running', started_at = coalesce(b.started_at, now())
   where b.job_id = p_job and b.batch_index = p_batch and b.status <> 'done'
     and exists (select from public.import_jobs j where j.id = p_job and j.status <> 'failed')
  returning b.attempts into n;
  return n;
end
$$;

-- Null statuses: the job or the batch is gone.
create or replace function app.import_lock_batch(p_job uuid, p_batch integer)
returns table (job_status text, batch_status text)
language plpgsql
set search_path = ''
as $$
begin
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('import/' || p_job, 0));
  select j.status into job_status from public.import_jobs j where j.id = p_job for no key update;
  select b.status into batch_status from public.import_batches b
   where b.job_id = p_job and b.batch_index = p_batch
     for update;
  return next;
end
$$;

revoke all on function app.import_count_attempt(uuid, integer, boolean), app.import_lock_batch(uuid, integer)
  from public;

-- cancel_workflow('import/<id>') calls this once it has canceled the root (see cancel_workflow in
-- 20261121000600_operations.sql): the row people watch ends `failed` with an error that says it was
-- canceled, which keeps the table's documented statuses and lets retry_workflow resume it.
-- The hook locks the job row before its batches, the order every other writer uses (a running batch
-- takes the job row first, and a DELETE of the job locks it and then cascades into import_batches): a
-- batch running at that moment finishes first and counts as done, instead of deadlocking with the
-- cancel. The finished batches stay imported; a retry resumes at the next one.
create or replace function app.workflow_canceled_import(row_id text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform from public.import_jobs where id::text = row_id for no key update;
  update public.import_batches
     set status = 'failed', error = 'canceled' || coalesce(' while ' || error, '')
   where job_id::text = row_id and status in ('running', 'retrying');
  update public.import_jobs
     set status = 'failed', finished_at = now(), updated_at = now(),
         -- No count here: a batch already running still commits after this (batches_done says it).
         error = 'canceled with cancel_workflow; the finished batches (batches_done) stay imported, and '
              || 'retry_workflow resumes at the next one'
   where id::text = row_id and status in ('queued', 'staging', 'importing');
end
$$;

revoke all on function app.workflow_canceled_import(text) from public;

-- Kept source bytes (import_source_chunks) of jobs that finished a day ago: the import deletes them itself
-- when a job finishes; this daily backstop catches a status edited by hand. Failed jobs keep theirs so
-- that retry_workflow can resume them.
create or replace function app.delete_kept_import_sources(older_than interval default interval '1 day')
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  deleted integer;
begin
  delete from public.import_source_chunks c
   using public.import_jobs j
   where c.job_id = j.id
     and j.status in ('succeeded', 'partially_succeeded')
     and j.finished_at < now() - older_than;
  get diagnostics deleted = row_count;
  delete from public.import_sources s
   using public.import_jobs j
   where s.job_id = j.id
     and j.status in ('succeeded', 'partially_succeeded')
     and j.finished_at < now() - older_than;
  return deleted;
end
$$;

revoke all on function app.delete_kept_import_sources(interval) from public;

do $$
begin
  if exists (select from pg_extension where extname = 'pg_cron') then
    perform cron.schedule('import-kept-sources-cleanup', '47 3 * * *',
      $cmd$select app.delete_kept_import_sources(interval '1 day')$cmd$);
  end if;
end
$$;
