-- What an import job or image request asks for is fixed once the row is inserted. Editing it while
-- the workflow ran (a batch_size, source_url and target changed mid-import) made later batches read a
-- different job than the one staged: the job ended `succeeded` with most of its rows never imported.
-- A retry would run the edited spec too. So an update that changes a spec column is refused for every
-- role, with a message saying to insert a new row.
--
-- Status, counts, errors and timings are the workflow's to write. The worker, the cancel hooks and the
-- dashboard's SQL editor all act as the tables' owner; the API roles (service_role, and anon or
-- authenticated should someone add a policy) do not, and their edits of those columns are refused. The
-- owner's own edits are not refused here: the import's final step recomputes the verdict and counters
-- from import_batches, so a hand edit made mid-run does not decide the outcome.

-- Trigger arguments: the row's noun ('import job'), the workflow kind ('import'), the spec columns as
-- one comma-separated list, and the workflow-owned columns likewise.
-- Security invoker on purpose: the owner check needs the caller's role, so the body calls only
-- pg_catalog (a trigger function itself fires whatever the caller's privileges on schema app).
create or replace function app.guard_workflow_row()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  noun text := tg_argv[0];
  kind text := tg_argv[1];
  spec text[] := pg_catalog.string_to_array(tg_argv[2], ',');
  owned text[] := pg_catalog.string_to_array(tg_argv[3], ',');
  old_row jsonb := pg_catalog.to_jsonb(old);
  new_row jsonb := pg_catalog.to_jsonb(new);
  changed text[];
begin
  select coalesce(pg_catalog.array_agg(c order by c), '{}') into changed
    from pg_catalog.unnest(spec) c where old_row -> c is distinct from new_row -> c;
  if cardinality(changed) > 0 then
    raise exception '% %: % cannot change once the row is inserted (this update changes %); insert a new % row instead',
      noun, old.id, array_to_string(spec, ', '), array_to_string(changed, ', '), tg_table_name
      using errcode = 'object_not_in_prerequisite_state';
  end if;
  select coalesce(pg_catalog.array_agg(c order by c), '{}') into changed
    from pg_catalog.unnest(owned) c where old_row -> c is distinct from new_row -> c;
  -- The table's owner and its members (superusers included) may; the API roles may not.
  if cardinality(changed) > 0 and not (
       select pg_catalog.pg_has_role(current_user, c.relowner, 'MEMBER')
         from pg_catalog.pg_class c where c.oid = tg_relid) then
    raise exception '% %: status, counts, errors and timings are written by its workflow, not by % (this update changes %); stop it with select public.cancel_workflow(''%/%'') or run it again with select public.retry_workflow(''%/%'')',
      noun, old.id, current_user, array_to_string(changed, ', '), kind, old.id, kind, old.id
      using errcode = 'insufficient_privilege';
  end if;
  return new;
end
$$;

revoke all on function app.guard_workflow_row() from public;

drop trigger if exists import_jobs_guard on public.import_jobs;
create trigger import_jobs_guard
  before update on public.import_jobs
  for each row execute function app.guard_workflow_row(
    'import job', 'import',
    'source_url,format,target,batch_size',
    'status,total_rows,imported_rows,skipped_rows,failed_rows,batches_total,batches_done,error,'
      'started_at,staged_at,finished_at');

drop trigger if exists image_requests_guard on public.image_requests;
create trigger image_requests_guard
  before update on public.image_requests
  for each row execute function app.guard_workflow_row(
    'image request', 'images',
    'prompt,styles,options',
    'status,error,images_total,images_succeeded,images_failed,started_at,finished_at');
