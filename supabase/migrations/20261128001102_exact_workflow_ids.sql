-- Workflow ids are matched exactly. They were spliced into LIKE patterns, so `%` and `_` in an id
-- were wildcards: retry_workflow('%') re-ran another request's workflow under the id '%/retry-1',
-- cancel_workflow('images/%') canceled a retry it found by pattern, and GET /runs/%25 answered an
-- arbitrary run. Every prefix match below escapes the id first; an unknown id is "no workflow <id>".

-- The id as a LIKE pattern that matches only itself (backslash is LIKE's default escape character).
create or replace function resonate.like_literal(id text)
returns text
language sql
immutable
set search_path = ''
as $$
  select replace(replace(replace(id, '\', '\\'), '%', '\%'), '_', '\_')
$$;

-- The root promises of one workflow: `<kind>/<id>` itself and its retries `<kind>/<id>/retry-<n>`.
-- A step's id (it contains ':') names no workflow: retrying one would start the step as a root.
create or replace function resonate.workflow_attempts(base text)
returns setof resonate.promises
language sql
stable
as $$
  select * from resonate.promises p
   where strpos(base, ':') = 0
     and (p.id = base
      or (p.id like resonate.like_literal(base) || '/retry-%'
          and substr(p.id, length(base) + 8) ~ '^[0-9]+$'))
$$;

revoke all on function resonate.like_literal(text) from public;
grant execute on function resonate.like_literal(text) to service_role;

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
    from resonate.workflow_attempts(runs.base_id) rp
   order by rp.created_at desc
   limit 1
) p on true
left join resonate.tasks t on t.id = p.id
left join lateral (
  select count(*) filter (where c.state <> 'pending')::int as settled, count(*)::int as total
    from resonate.promises c
   where c.id like resonate.like_literal(p.id) || ':%'
) steps on true
left join lateral (
  select greatest(count(*)::int - 1, 0) as n
    from resonate.workflow_attempts(runs.base_id)
) retries on true;

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
   where p.id like resonate.like_literal(workflow_id) || ':%'
   order by p.created_at, p.id;
$$;

-- As in 20261121000700_cancel_marks_rows.sql, with the id's descendants matched exactly.
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
     where (id = target or id like resonate.like_literal(target) || ':%') and state = 'pending'
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
