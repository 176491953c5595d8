-- Canceling a workflow also closes the row people watch. Before this, cancel_workflow settled the
-- durable promises only: the workflow_runs view said `canceled` while the import job stayed `importing`
-- forever, and an image request whose running styles finished afterwards ended `succeeded`.
--
-- Each workload names its row's final state in `app.workflow_canceled_<kind>(row_id)`. The rows end
-- `failed` with an error that says they were canceled, which keeps each table's documented statuses and
-- lets retry_workflow resume them: done import batches and generated styles are not redone.
-- A step that was already running when the cancel came still finishes its own write (an import batch
-- commits); nothing after it runs.

create or replace function app.workflow_canceled_import(row_id text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
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

-- A style whose generation was still running stays failed even if its provider call returns later
-- (the worker stores nothing for a style that is no longer running, and recordSuccess only completes
-- a running one), so the request's counts hold. A style that was retrying keeps its last error.
create or replace function app.workflow_canceled_images(row_id text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.generated_images
     set status = 'failed', error = 'canceled' || coalesce(' while retrying: ' || error, ''),
         finished_at = now(), updated_at = now()
   where request_id::text = row_id and status in ('pending', 'running');
  with counts as (
    select count(*) filter (where g.status = 'succeeded')::int as succeeded,
           count(*) filter (where g.status = 'failed')::int as failed
      from public.generated_images g
     where g.request_id::text = row_id
  )
  update public.image_requests r
     set status = case when c.succeeded = 0 then 'failed' else 'partially_succeeded' end,
         images_succeeded = c.succeeded, images_failed = c.failed, finished_at = now(),
         -- Its workflow did start, even if no step ran yet: a retry may run it (see startRequest).
         started_at = coalesce(r.started_at, now()),
         error = 'canceled with cancel_workflow: ' || c.succeeded || ' of ' || cardinality(r.styles)
              || ' styles were generated; retry_workflow generates the rest'
    from counts c
   where r.id::text = row_id and r.status in ('queued', 'running');
end
$$;

create or replace function app.workflow_canceled_ingest(row_id text)
returns void
language sql
security definer
set search_path = ''
as $$
  update public.ingest_runs
     set status = 'failed', finished_at = now(),
         error = 'canceled with cancel_workflow; retry_workflow runs it again'
   where id = row_id and status in ('queued', 'crawling', 'indexing');
$$;

revoke all on function app.workflow_canceled_import(text), app.workflow_canceled_images(text),
  app.workflow_canceled_ingest(text) from public;

-- As before, plus the workload's hook when this call canceled the root.
create or replace function public.cancel_workflow(workflow_id text)
returns int
language plpgsql
security definer
set search_path = ''
as $$
declare
  target text;
  canceled int := 0;
  root_canceled boolean := false;
  res jsonb;
  pid text;
  base text;
  kind text;
  hook text;
begin
  select p.id into target from resonate.workflow_attempts(workflow_id) p order by p.created_at desc limit 1;
  if target is null then
    raise exception 'no workflow %', workflow_id using errcode = 'no_data_found';
  end if;
  for pid in
    select id from resonate.promises
     where (id = target or id like target || ':%') and state = 'pending'
     order by length(id) desc
  loop
    res := resonate.rpc_call('promise.settle', jsonb_build_object(
      'id', pid, 'state', 'rejected_canceled',
      'value', jsonb_build_object('headers', '{}'::jsonb,
        'data', encode(convert_to('"canceled"', 'UTF8'), 'base64'))));
    if (res -> 'head' ->> 'status')::int = 200 and res -> 'data' -> 'promise' ->> 'state' = 'rejected_canceled' then
      canceled := canceled + 1;
      root_canceled := root_canceled or pid = target;
    end if;
  end loop;

  -- `<kind>/<row id>` or `<kind>/<row id>/retry-<n>`.
  base := regexp_replace(target, '/retry-\d+$', '');
  kind := split_part(base, '/', 1);
  if root_canceled and kind ~ '^[a-z_]+$' and strpos(base, '/') > 0 then
    hook := 'workflow_canceled_' || kind;
    if to_regprocedure(format('app.%I(text)', hook)) is not null then
      execute format('select app.%I($1)', hook) using substr(base, strpos(base, '/') + 1);
    end if;
  end if;
  return canceled;
end
$$;

-- Retrying a row that was refused before its workflow started (for example by the webhook's input
-- check) used to answer "no workflow", which reads as if the row were missing.
create or replace function public.retry_workflow(workflow_id text)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  base text := regexp_replace(workflow_id, '/retry-\d+$', '');
  latest resonate.promises;
  run public.workflow_runs;
  new_id text;
  n int;
  res jsonb;
begin
  select * into latest from resonate.workflow_attempts(base) p order by p.created_at desc limit 1;
  if latest.id is null then
    select * into run from public.workflow_runs w where w.workflow_id = base;
    if run.row_id is not null and run.last_error is not null then
      raise exception 'workflow % never started: its row was refused (%); fix the input and insert a new row',
        base, run.last_error using errcode = 'no_data_found';
    elsif run.row_id is not null then
      raise exception 'workflow % has not started yet (its row is %)', base, run.status
        using errcode = 'no_data_found';
    end if;
    raise exception 'no workflow %', workflow_id using errcode = 'no_data_found';
  end if;
  select * into run from public.workflow_runs w where w.workflow_id = latest.id;
  if latest.state = 'pending' then
    raise exception 'workflow % is still running; cancel it first', latest.id using errcode = 'object_in_use';
  end if;
  if latest.state = 'resolved' and run.status not in ('failed', 'partially_succeeded') then
    raise exception 'workflow % succeeded; nothing to retry', latest.id using errcode = 'invalid_parameter_value';
  end if;
  select count(*) into n from resonate.workflow_attempts(base) p where p.id <> base;
  new_id := base || '/retry-' || (n + 1);
  res := resonate.rpc_call('promise.create', jsonb_build_object(
    'id', new_id,
    'timeoutAt', (extract(epoch from clock_timestamp()) * 1000)::bigint + 86400000,
    'param', latest.param,
    'tags', latest.tags || jsonb_build_object(
      'resonate:branch', new_id, 'resonate:origin', new_id, 'resonate:parent', new_id)));
  if (res -> 'head' ->> 'status')::int <> 200 then
    raise exception 'could not start %: %', new_id, res ->> 'data';
  end if;
  return new_id;
end
$$;

-- A local step retries inside the worker without the store seeing its attempts, so it has no attempt
-- count here; a remote step's is its task's version. Workloads keep their own counts (for example
-- import_batches.attempts and generated_images.attempts).
create or replace function public.workflow_steps(workflow_id text)
returns table (
  step_id text,
  func text,
  kind text,
  state text,
  attempts int,
  created_at timestamptz,
  settled_at timestamptz,
  duration_ms bigint
)
language sql
stable
security definer
set search_path = ''
as $$
  select p.id,
         resonate.func_name(p.param),
         case when p.tags ? 'resonate:target' then 'remote' else 'local' end,
         p.state,
         t.version,
         to_timestamp(p.created_at / 1000.0),
         to_timestamp(p.settled_at / 1000.0),
         p.settled_at - p.created_at
    from resonate.promises p
    left join resonate.tasks t on t.id = p.id
   where p.id like workflow_id || ':%'
   order by p.created_at, p.id;
$$;
