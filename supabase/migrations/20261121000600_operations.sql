-- Operating the workloads from SQL and the dashboard: one view of every run joined to its durable
-- state, the steps of one workflow, and cancel / retry. The SQL core the `runs` Edge Function and the
-- `npm run status` CLI are thin adapters over.
--
-- Each workload (functions/routes.ts) appears here three times, and test/operations/registry.test.ts
-- checks all three against that list: a branch of workflow_runs, its workflow in app.workflow_call, and
-- its cancel hook app.workflow_canceled_<kind> (defined with the workload's tables).

-- Decodes the function name the SDK stores in a promise's param (base64 JSON); null when it is not
-- there or not JSON, so one odd promise never breaks the listing.
create or replace function app.func_name(param jsonb)
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

-- Sends one protocol request as the store would receive it from the SDK.
create or replace function app.rpc_call(kind text, data jsonb)
returns jsonb
language sql
as $$
  select resonate.resonate_rpc(jsonb_build_object(
    'kind', kind,
    'head', jsonb_build_object('corrId', 'sql:' || gen_random_uuid(), 'version', '2026-04-01'),
    'data', data));
$$;

revoke all on function app.rpc_call(text, jsonb), app.func_name(jsonb) from public;

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
         r.images_succeeded, coalesce(r.images_total, cardinality(r.styles)), 'images',
         r.created_at, r.started_at, r.finished_at, r.error
    from public.image_requests r
  union all
  -- Chunks once the index pass has counted them; before that, the workflow's steps.
  select 'ingest', i.id, 'ingest/' || i.id, i.status,
         case when i.chunks_total is not null then i.chunks_done end, i.chunks_total, 'chunks',
         i.created_at, i.started_at, i.finished_at, i.error
    from public.ingest_runs i
)
select
  coalesce(p.id, runs.base_id) as workflow_id,
  runs.kind,
  runs.row_id,
  case when p.state = 'rejected_canceled' then 'canceled' else runs.status end as status,
  p.state as durable_state,
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
    from app.workflow_attempts(runs.base_id) rp
   order by rp.created_at desc
   limit 1
) p on true
left join resonate.tasks t on t.id = p.id
left join lateral (
  select count(*) filter (where c.state <> 'pending')::int as settled, count(*)::int as total
    from resonate.promises c
   where c.id like app.like_literal(p.id) || ':%'
) steps on true
left join lateral (
  select greatest(count(*)::int - 1, 0) as n
    from app.workflow_attempts(runs.base_id)
) retries on true;

comment on view public.workflow_runs is
  'Every import job, image request and ingest run with status, progress, timings, attempts and last error, joined to its durable workflow state.';

-- Only privileged roles: the view reads the resonate schema, which the API roles cannot.
revoke all on public.workflow_runs from anon, authenticated;
grant select on public.workflow_runs to service_role;

-- The steps (child promises) of one workflow, in the order they were created.
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
         app.func_name(p.param),
         case when p.tags ? 'resonate:target' then 'remote' else 'local' end,
         p.state,
         t.version,
         to_timestamp(p.created_at / 1000.0),
         to_timestamp(p.settled_at / 1000.0),
         p.settled_at - p.created_at
    from resonate.promises p
    left join resonate.tasks t on t.id = p.id
   where p.id like app.like_literal(workflow_id) || ':%'
   order by p.created_at, p.id;
$$;

-- The function and arguments of a workload's workflow, as the SDK encodes them in a promise's param,
-- derived from its row id. Null for a kind without a workflow.
create or replace function app.workflow_call(kind text, row_id text)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select case kind
    when 'import' then jsonb_build_object('func', 'importJob', 'args', jsonb_build_array(row_id), 'version', 1)
    when 'images' then jsonb_build_object('func', 'generateImages', 'args', jsonb_build_array(row_id), 'version', 1)
    -- A forced run's id carries "-force-" (functions/ingest/run-id.ts), and crawlCorpus takes the flag.
    when 'ingest' then jsonb_build_object('func', 'crawlCorpus',
      'args', jsonb_build_array(row_id, strpos(row_id, '-force-') > 0), 'version', 1)
  end
$$;

revoke all on function app.workflow_call(text, text) from public;

-- Cancels a running workflow: its root and every pending descendant are settled rejected_canceled,
-- which fences off any worker still executing it (its next durable step gets a 409 and stops).
-- Returns the number of promises canceled; 0 when the workflow had already finished.
-- Then, once it canceled the root, it calls the workload's hook app.workflow_canceled_<kind>(row id),
-- which closes the row people watch (the view alone would say canceled while the row kept running).
-- It first takes the workflow's turn, an advisory lock on its id without /retry-<n>, before it settles
-- anything. A workload whose steps run many units each takes the same turn before each unit (an import's
-- batches: app.import_count_attempt and app.import_lock_batch): advisory locks are granted in the order
-- asked for, so a unit that comes after the running one waits for the cancel to commit, and then sees
-- it. Without it the next batch could take the job row before the cancel waiting for that row, and run
-- after the cancel.
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
  select p.id into target from app.workflow_attempts(workflow_id) p order by p.created_at desc limit 1;
  if target is null then
    raise exception 'no workflow %', workflow_id using errcode = 'no_data_found';
  end if;
  base := regexp_replace(target, '/retry-\d+$', '');
  perform pg_advisory_xact_lock(hashtextextended(base, 0));
  -- The rows it settles, locked first in the store's global order (promise rows by bytewise id, an
  -- ancestor before its descendants, then their task rows by id), as fences and heartbeats take them:
  -- settling deepest-first while a worker's fence holds the workflow's row and waits for a step's, or
  -- a heartbeat holds the workflow's task and waits for a child workflow's, would deadlock. The task
  -- rows include those of workflows outside this one that wait on it (an rpc by explicit id): the
  -- settlement resumes them, and taken then, after the workflow's own, they would be out of id order.
  perform 1 from resonate.promises
   where (id = target or id like app.like_literal(target) || ':%') and state = 'pending'
   order by id collate "C"
     for no key update;
  perform 1 from resonate.tasks t
   where t.id = any (array(
     select t2.id from resonate.tasks t2 where t2.id = target or t2.id like app.like_literal(target) || ':%'
     union
     select c.awaiter from resonate.callbacks c
      where c.awaited = target or c.awaited like app.like_literal(target) || ':%'))
   order by t.id collate "C"
     for no key update;
  for pid in
    select id from resonate.promises
     where (id = target or id like app.like_literal(target) || ':%') and state = 'pending'
     order by length(id) desc
  loop
    res := app.rpc_call('promise.settle', jsonb_build_object(
      'id', pid, 'state', 'rejected_canceled',
      'value', jsonb_build_object('headers', '{}'::jsonb,
        'data', encode(convert_to('"canceled"', 'UTF8'), 'base64'))));
    if (res -> 'head' ->> 'status')::int = 200 and res -> 'data' -> 'promise' ->> 'state' = 'rejected_canceled' then
      canceled := canceled + 1;
      root_canceled := root_canceled or pid = target;
    end if;
  end loop;

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

-- Retries a finished-but-failed workflow under a fresh id (`<kind>/<row id>/retry-<n>`) with the same
-- function and arguments. The workloads' steps skip what is already done (finished import batches,
-- generated styles), so a retry does only the remaining work. Returns the new workflow id.
-- A run whose durable record is gone (resonate.gc removes settled workflows after 7 days, or the store was
-- reset) is retried from its row, when its workflow did start (started_at is set): every workload's
-- arguments follow from its row (app.workflow_call).
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
  n numeric;
  res jsonb;
  param jsonb;
  target text;
begin
  -- The workflow's turn, as cancel_workflow takes it: a second retry_workflow at the same moment waits
  -- for the first to commit and then finds its retry pending. Without it, one that read the attempts
  -- before the first committed and numbered them after started a second retry beside it.
  perform pg_advisory_xact_lock(hashtextextended(base, 0));
  select * into latest from app.workflow_attempts(base) p order by p.created_at desc limit 1;
  if latest.id is null then
    select * into run from public.workflow_runs w where w.kind || '/' || w.row_id = base;
    if run.row_id is null then
      raise exception 'no workflow %', workflow_id using errcode = 'no_data_found';
    end if;
    if run.started_at is null and run.last_error is not null then
      raise exception 'workflow % never started: its row was refused (%); fix the input and insert a new row',
        base, run.last_error using errcode = 'no_data_found';
    elsif run.started_at is null then
      raise exception 'workflow % has not started yet (its row is %)', base, run.status
        using errcode = 'no_data_found';
    elsif run.status = 'succeeded' then
      raise exception 'workflow % succeeded; nothing to retry', base using errcode = 'invalid_parameter_value';
    end if;
    -- Its record is gone: start it from its row, on the worker group the newest workflow of its kind
    -- was sent to (the SDK's default group otherwise).
    param := app.workflow_call(run.kind, run.row_id);
    select p.tags ->> 'resonate:target' into target
      from resonate.promises p
     where strpos(p.id, ':') = 0 and starts_with(p.id, run.kind || '/') and p.tags ? 'resonate:target'
     order by p.created_at desc
     limit 1;
    latest.param := jsonb_build_object('headers', '{}'::jsonb,
      'data', encode(convert_to(param::text, 'UTF8'), 'base64'));
    latest.tags := jsonb_build_object('resonate:scope', 'global',
      'resonate:target', coalesce(target, 'poll://any@workers'));
  else
    select * into run from public.workflow_runs w where w.workflow_id = latest.id;
    if latest.state = 'pending' then
      raise exception 'workflow % is still running; cancel it first', latest.id using errcode = 'object_in_use';
    end if;
    if latest.state = 'resolved' and run.status not in ('failed', 'partially_succeeded') then
      raise exception 'workflow % succeeded; nothing to retry', latest.id using errcode = 'invalid_parameter_value';
    end if;
  end if;
  -- After the highest retry kept, not the count: gc collects the oldest attempts first, and a count
  -- then named an attempt that still exists, which promise.create returns settled: nothing started.
  select coalesce(max(substr(p.id, length(base) + 8)::numeric), 0) into n
    from app.workflow_attempts(base) p where p.id <> base;
  new_id := base || '/retry-' || (n + 1);
  res := app.rpc_call('promise.create', jsonb_build_object(
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
