-- A workflow id is `<kind>/<row id>`, and the durable store answers a second start of an id with the
-- first one's promise. So a row inserted with the id of a row that was deleted (or with an id a forged
-- webhook had already started) got the old, finished workflow: it stayed `queued` forever and
-- retry_workflow said "succeeded; nothing to retry". Such an insert is refused, saying why.
-- (The webhook also starts nothing for an id that has no row: functions/shared/webhook.ts.)

create or replace function app.refuse_reused_workflow_id()
returns trigger
language plpgsql
-- Definer: anon and authenticated cannot read the resonate schema, and the check must hold for them too.
security definer
set search_path = ''
as $$
declare
  noun text := tg_argv[0];
  base text := tg_argv[1] || '/' || new.id::text;
  earlier resonate.promises;
begin
  -- The first run's promise is created before any retry of it, so looking up that one id (a primary
  -- key lookup on every insert, not a scan) finds any earlier workflow.
  select * into earlier from resonate.promises p where p.id = base;
  if earlier.id is not null then
    raise exception '% %: workflow % already exists (%) from an earlier row with this id, so this row would never run; insert it without an id to get a new one',
      noun, new.id, earlier.id, earlier.state
      using errcode = 'duplicate_object';
  end if;
  return new;
end
$$;

revoke all on function app.refuse_reused_workflow_id() from public;

drop trigger if exists import_jobs_refuse_reused_id on public.import_jobs;
create trigger import_jobs_refuse_reused_id
  before insert on public.import_jobs
  for each row execute function app.refuse_reused_workflow_id('import job', 'import');

drop trigger if exists image_requests_refuse_reused_id on public.image_requests;
create trigger image_requests_refuse_reused_id
  before insert on public.image_requests
  for each row execute function app.refuse_reused_workflow_id('image request', 'images');
