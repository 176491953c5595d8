-- Operating the workloads from SQL and the dashboard: one view of every run joined to its durable
-- state, the steps of one workflow, and cancel / retry. The SQL core the `runs` Edge Function and the
-- `npm run status` CLI are thin adapters over.

-- The root promises of one workflow: `<kind>/<id>` and each retry of it, `<kind>/<id>/retry-<n>`. Root
-- ids never contain ':' (the SDK reserves it for child ids), which tells retries from their steps.
-- A plain SQL function, so the planner inlines it where it is used.
create or replace function resonate.workflow_attempts(base text)
returns setof resonate.promises
language sql
stable
as $$
  select * from resonate.promises p
   where p.id = base or (p.id like base || '/retry-%' and strpos(p.id, ':') = 0)
$$;

revoke all on function resonate.workflow_attempts(text) from public;
grant execute on function resonate.workflow_attempts(text) to service_role;

-- Every import job, image request and ingest run with its workflow's durable state. A retried run
-- shows its newest attempt.
create or replace view public.workflow_runs
with (security_invoker = true)
as
with runs as (
  select 'import'::text as kind, j.id::text as row_id, 'import/' || j.id as base_id, j.status,
         j.batches_done as done, j.batches_total as total, 'batches'::text as unit,
         j.created_at, j.started_at, j.finished_at, j.error as last_error
    from public.import_jobs j
  union all
  select 'images', r.id::text, 'images/' || r.id, r.status,
         r.images_succeeded + r.images_failed, coalesce(r.images_total, cardinality(r.styles)), 'images',
         r.created_at, r.started_at, r.finished_at, r.error
    from public.image_requests r
  union all
  select 'ingest', i.id, 'ingest/' || i.id, i.status,
         null::int, null::int, 'sources',
         i.created_at, i.started_at, i.finished_at, i.error
    from public.ingest_runs i
)
select
  coalesce(p.id, runs.base_id) as workflow_id,
  runs.kind,
  runs.row_id,
  -- A canceled workflow shows as canceled even though its row kept the status it had.
  case when p.state = 'rejected_canceled' then 'canceled' else runs.status end as status,
  p.state as durable_state,
  -- Workloads without their own progress counters show settled steps of all steps started so far.
  coalesce(runs.done, case when steps.total > 0 then steps.settled end) as done,
  coalesce(runs.total, nullif(steps.total, 0)) as total,
  case when runs.total is null then 'steps' else runs.unit end as unit,
  runs.created_at,
  runs.started_at,
  runs.finished_at,
  coalesce(runs.finished_at, now()) - coalesce(runs.started_at, runs.created_at) as duration,
  coalesce(t.version, 0) as attempts,
  t.state as task_state,
  runs.last_error,
  retries.n as retries
from runs
left join lateral (
  select rp.id, rp.state
    from resonate.workflow_attempts(runs.base_id) rp
   order by rp.created_at desc
   limit 1
) p on true
left join resonate.tasks t on t.id = p.id
left join lateral (
  select count(*) filter (where c.state <> 'pending')::int as settled, count(*)::int as total
    from resonate.promises c
   where c.id like p.id || ':%'
) steps on true
left join lateral (
  select greatest(count(*)::int - 1, 0) as n
    from resonate.workflow_attempts(runs.base_id)
) retries on true;

comment on view public.workflow_runs is
  'Every import job, image request and ingest run with status, progress, timings, attempts and last error, joined to its durable workflow state.';

-- Only privileged roles: the view reads the resonate schema, which the API roles cannot.
revoke all on public.workflow_runs from anon, authenticated;
grant select on public.workflow_runs to service_role;

-- Decodes the function name the SDK stores in a promise's param (base64 JSON); null when it is not
-- there or not JSON, so one odd promise never breaks the listing.
create or replace function resonate.func_name(param jsonb)
returns text
language plpgsql
immutable
as $$
begin
  return convert_from(decode(param ->> 'data', 'base64'), 'UTF8')::jsonb ->> 'func';
exception when others then
  return null;
end
$$;

-- The steps (child promises) of one workflow, in the order they were created.
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
         coalesce(t.version, 0),
         to_timestamp(p.created_at / 1000.0),
         to_timestamp(p.settled_at / 1000.0),
         p.settled_at - p.created_at
    from resonate.promises p
    left join resonate.tasks t on t.id = p.id
   where p.id like workflow_id || ':%'
   order by p.created_at, p.id;
$$;

-- Sends one protocol request as the store would receive it from the SDK.
create or replace function resonate.rpc_call(kind text, data jsonb)
returns jsonb
language sql
as $$
  select resonate.resonate_rpc(jsonb_build_object(
    'kind', kind,
    'head', jsonb_build_object('corrId', 'sql:' || gen_random_uuid(), 'version', '2026-04-01'),
    'data', data));
$$;

-- Cancels a running workflow: its root and every pending descendant are settled rejected_canceled,
-- which fences off any worker still executing it (its next durable step gets a 409 and stops).
-- Returns the number of promises canceled; 0 when the workflow had already finished.
create or replace function public.cancel_workflow(workflow_id text)
returns int
language plpgsql
security definer
set search_path = ''
as $$
declare
  target text;
  canceled int := 0;
  res jsonb;
  pid text;
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
    end if;
  end loop;
  return canceled;
end
$$;

-- Retries a finished-but-failed workflow under a fresh id (`<kind>/<row id>/retry-<n>`) with the same
-- function and arguments. The workloads' steps skip what is already done (finished import batches,
-- generated styles), so a retry does only the remaining work. Returns the new workflow id.
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

revoke all on function public.workflow_steps(text), public.cancel_workflow(text), public.retry_workflow(text)
  from public, anon, authenticated;
grant execute on function public.workflow_steps(text), public.cancel_workflow(text), public.retry_workflow(text)
  to service_role;
revoke all on function resonate.rpc_call(text, jsonb), resonate.func_name(jsonb) from public;
