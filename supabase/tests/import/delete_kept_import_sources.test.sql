-- app.delete_kept_import_sources(older_than): the daily backstop that deletes the kept source bytes
-- (import_source_chunks, and the import_sources row) of jobs that succeeded or partially succeeded
-- longer ago than older_than; a failed job keeps them (retry_workflow resumes from them), as does one
-- that finished recently. Returns the number of chunks deleted.
begin;
select plan(4);

set local client_min_messages = error;
insert into public.import_jobs (id, source_url, status, finished_at) values
  ('00000000-0000-0000-0000-00000000000a', 'x', 'succeeded', now() - interval '2 days'),
  ('00000000-0000-0000-0000-00000000000b', 'x', 'partially_succeeded', now() - interval '2 days'),
  ('00000000-0000-0000-0000-00000000000c', 'x', 'failed', now() - interval '2 days'),
  ('00000000-0000-0000-0000-00000000000d', 'x', 'succeeded', now() - interval '1 hour');
reset client_min_messages;
insert into public.import_sources (job_id, gzip, spooled, size)
  select id, false, true, 3 from public.import_jobs;
insert into public.import_source_chunks (job_id, chunk_no, bytes)
  select id, n, '\x00' from public.import_jobs, generate_series(0, 1) n;

select is(app.delete_kept_import_sources(interval '1 day'), 4, 'the chunks of the two jobs that finished well a day ago');
select is((select array_agg(distinct right(job_id::text, 1) order by right(job_id::text, 1)) from public.import_source_chunks),
          array['c', 'd'], 'a failed job and a recent one keep their chunks');
select is((select array_agg(right(job_id::text, 1) order by job_id) from public.import_sources), array['c', 'd'],
          'and their sources');
select is(app.delete_kept_import_sources(interval '1 day'), 0, 'a second pass deletes nothing');

select * from finish();
rollback;
