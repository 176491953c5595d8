-- The import stops writing every record a second time. import_rows held each record as jsonb until
-- its batch ran (a heap row, two index entries and WAL per record: about half of a plain import's
-- time). Staging now only reads the source: it records where each batch's records lie in it (byte
-- range, first line, record count, SHA-256 of the bytes), and each batch step reads its range again.
-- A source that cannot be read again with the same bytes (an http(s) answer without byte ranges or
-- without a validator) has its raw bytes kept in import_source_chunks while the job runs instead.

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

alter table public.import_sources enable row level security;
alter table public.import_source_chunks enable row level security;

-- Byte ranges are of the decompressed source; each batch's ends where the next one's begins, and the
-- last one's at the end of the source. checksum is the SHA-256 of those bytes as staging read them.
alter table public.import_batches
  add column if not exists byte_start bigint,
  add column if not exists byte_end bigint,
  add column if not exists first_line integer,
  add column if not exists checksum bytea;

-- Jobs an earlier version staged into import_rows and did not finish keep their done batches; the
-- others are dropped with import_rows, and the job is marked to be staged again, which a retry does
-- (done batches are kept and not run again).
with legacy as (
  select distinct b.job_id
    from public.import_batches b
    join public.import_jobs j on j.id = b.job_id
   where b.status <> 'done' and b.byte_start is null
     and j.status in ('staging', 'importing', 'failed')
), dropped as (
  delete from public.import_batches b
   using legacy l
   where b.job_id = l.job_id and b.status <> 'done'
)
update public.import_jobs j
   set staged_at = null,
       status = 'failed',
       finished_at = coalesce(j.finished_at, now()),
       error = case when j.status = 'failed' then j.error
                    else 'staged by an earlier version of the import; select public.retry_workflow(''import/'
                         || j.id || ''') stages it again and resumes after its finished batches' end
  from legacy l
 where j.id = l.job_id;

drop table if exists public.import_rows;

-- The daily backstop now deletes kept source bytes of jobs finished a day ago (the import deletes them
-- itself when a job finishes; this catches a status edited by hand). Failed jobs keep theirs.
create or replace function app.delete_staged_import_rows(older_than interval default interval '1 day')
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

revoke all on function app.delete_staged_import_rows(interval) from public;
