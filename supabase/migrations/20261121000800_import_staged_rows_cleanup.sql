-- import_rows holds a second copy of every imported file. A job that finished (succeeded or
-- partially_succeeded) never reads its staged rows again, so they are deleted a day after it finished:
-- long enough to look into a surprising result. Failed jobs keep theirs, because retry_workflow
-- resumes them from their unfinished batches.

create or replace function app.delete_staged_import_rows(older_than interval default interval '1 day')
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  deleted integer;
begin
  delete from public.import_rows r
   using public.import_jobs j
   where r.job_id = j.id
     and j.status in ('succeeded', 'partially_succeeded')
     and j.finished_at < now() - older_than;
  get diagnostics deleted = row_count;
  return deleted;
end
$$;

revoke all on function app.delete_staged_import_rows(interval) from public;

do $$
begin
  if exists (select from pg_extension where extname = 'pg_cron') then
    perform cron.schedule('import-staged-rows-cleanup', '47 3 * * *',
      $cmd$select app.delete_staged_import_rows(interval '1 day')$cmd$);
  end if;
end
$$;
