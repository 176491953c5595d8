-- Bulk import: insert one import_jobs row and a durable workflow ("importJob", id `import/<job id>`)
-- stages the file into import_rows, then imports it batch by batch into the target table.
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

-- The staged file: one row per record. Keyed by the record's line in the file so staging the same
-- file again (after a crash) inserts nothing new; batch_index = record number / batch_size.
create table if not exists public.import_rows (
  job_id uuid not null references public.import_jobs (id) on delete cascade,
  line_no integer not null,
  batch_index integer not null,
  raw jsonb not null,
  primary key (job_id, line_no)
);
create index if not exists import_rows_batch on public.import_rows (job_id, batch_index);

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

alter table public.import_jobs enable row level security;
alter table public.import_rows enable row level security;
alter table public.import_batches enable row level security;
alter table public.import_errors enable row level security;
alter table public.contacts enable row level security;

drop trigger if exists import_jobs_webhook on public.import_jobs;
create trigger import_jobs_webhook
  after insert on public.import_jobs
  for each row execute function app.post_webhook('import-webhook');

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
