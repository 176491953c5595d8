-- Deleting an import job while its workflow ran cascaded into import_batches under a running batch
-- (a deadlock), then the workflow retried for a minute on batches that no longer existed, and the
-- contacts it had written were left pointing at no job. A row whose workflow (or a retry of it) is
-- still pending cannot be deleted: cancel it first. Once canceled or finished, it deletes as before.

create or replace function app.refuse_deleting_running_row()
returns trigger
language plpgsql
-- Definer: anon and authenticated cannot read the resonate schema, and the check must hold for them too.
security definer
set search_path = ''
as $$
declare
  noun text := tg_argv[0];
  base text := tg_argv[1] || '/' || old.id::text;
  running text;
begin
  select p.id into running
    from resonate.workflow_attempts(base) p
   where p.state = 'pending'
   order by p.created_at desc
   limit 1;
  if running is not null then
    raise exception '% % is still running (workflow % is pending); cancel it first with select public.cancel_workflow(''%''), then delete it',
      noun, old.id, running, base
      using errcode = 'object_in_use';
  end if;
  return old;
end
$$;

revoke all on function app.refuse_deleting_running_row() from public;

drop trigger if exists import_jobs_refuse_running_delete on public.import_jobs;
create trigger import_jobs_refuse_running_delete
  before delete on public.import_jobs
  for each row execute function app.refuse_deleting_running_row('import job', 'import');

drop trigger if exists image_requests_refuse_running_delete on public.image_requests;
create trigger image_requests_refuse_running_delete
  before delete on public.image_requests
  for each row execute function app.refuse_deleting_running_row('image request', 'images');
