-- What ties a workload's row to its workflow. A row of public.import_jobs or public.image_requests
-- starts the workflow `<kind>/<row id>` (functions/routes.ts); retry_workflow starts
-- `<kind>/<row id>/retry-<n>`; a row of public.ingest_runs is written by its workflow `ingest/<run id>`.
-- The functions here find those attempts, and the trigger functions every workload's table attaches (in
-- its own migration) keep the row and its workflow consistent: what the row asks for is fixed once
-- inserted, a running row cannot be deleted, and a row cannot reuse the id of an earlier row's workflow.

-- The id as a LIKE pattern that matches only itself (backslash is LIKE's default escape character):
-- workflow ids are matched exactly, never as patterns (an id may hold % or _).
create or replace function app.like_literal(id text)
returns text
language sql
immutable
set search_path = ''
as $$
  select replace(replace(replace(id, '\', '\\'), '%', '\%'), '_', '\_')
$$;

-- The root promises of one workflow: `<kind>/<id>` itself and its retries `<kind>/<id>/retry-<n>`.
-- A step's id (it contains ':') names no workflow: retrying one would start the step as a root.
-- resonate.gc collects each attempt on its own (each is a root), so any of them may be gone, `<base>`
-- included: a retry started from the row after gc is `retry-1` with no `<base>` at all. So the retries
-- are a range scan of the ids beginning `<base>/retry-` (the key is collate "C", so the range is a prefix
-- and uses the key's index), not a probe that stops at the first missing one.
create or replace function app.workflow_attempts(base text)
returns setof resonate.promises
language sql
stable
as $$
  select * from resonate.promises p
   where pg_catalog.strpos(base, ':') = 0
     and (p.id = base
      or (p.id > (base || '/retry-') collate "C" and p.id < (base || '/retry.') collate "C"
          and pg_catalog.substr(p.id, pg_catalog.length(base) + 8) ~ '^[0-9]+$'))
$$;

revoke all on function app.like_literal(text), app.workflow_attempts(text) from public;
grant execute on function app.like_literal(text), app.workflow_attempts(text) to service_role;

-- The pending attempt of a workflow, if any, the newest.
create or replace function app.pending_attempt(base text)
returns text
language sql
stable
set search_path = ''
as $$
  select p.id from app.workflow_attempts(base) p
   where p.state = 'pending'
   order by p.created_at desc
   limit 1
$$;

revoke all on function app.pending_attempt(text) from public;

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
  -- The id names the workflow (`<kind>/<id>`): renumbered, a row loses its workflow, or takes over an
  -- earlier row's finished one and stays queued for good (what refuse_reused_workflow_id stops on insert).
  if old_row -> 'id' is distinct from new_row -> 'id' then
    raise exception '% %: the id cannot change once the row is inserted (its workflow is %/%); insert a new % row instead',
      noun, old.id, kind, old.id, tg_table_name
      using errcode = 'object_not_in_prerequisite_state';
  end if;
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

-- Deleting a row whose workflow (or a retry of it) is still pending is refused: cancel it first. A delete
-- of a running import job cascaded into import_batches under a running batch (a deadlock), the workflow
-- then retried on batches that no longer existed, and the contacts it had written pointed at no job.
-- Once canceled or finished, the row deletes as usual.
-- Definer: anon and authenticated cannot read the resonate schema, and the check must hold for them too.
create or replace function app.refuse_deleting_running_row()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  noun text := tg_argv[0];
  base text := tg_argv[1] || '/' || old.id::text;
  running text := app.pending_attempt(base);
begin
  if running is not null then
    raise exception '% % is still running (workflow % is pending); cancel it first with select public.cancel_workflow(''%''), then delete it',
      noun, old.id, running, base
      using errcode = 'object_in_use';
  end if;
  return old;
end
$$;

revoke all on function app.refuse_deleting_running_row() from public;

-- A workflow id is `<kind>/<row id>`, and the durable store answers a second start of an id with the
-- first one's promise. So a row inserted with the id of a row that was deleted (or with an id a forged
-- webhook had already started) got the old, finished workflow: it stayed `queued` forever and
-- retry_workflow said "succeeded; nothing to retry". Such an insert is refused, saying why. Every attempt
-- still stored counts, not only `<base>`: after gc collected the first run but kept a retry, the new row's
-- run and the old retries made one workflow (workflow_runs showed the old retry's state, retry_workflow
-- numbered after it).
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
  -- Index lookups on the key (workflow_attempts): one probe and one short range.
  select * into earlier from app.workflow_attempts(base) p order by p.created_at desc limit 1;
  if earlier.id is not null then
    raise exception '% %: workflow % already exists (%) from an earlier row with this id, so this row would never run; insert it without an id to get a new one',
      noun, new.id, earlier.id, earlier.state
      using errcode = 'duplicate_object';
  end if;
  return new;
end
$$;

revoke all on function app.refuse_reused_workflow_id() from public;
