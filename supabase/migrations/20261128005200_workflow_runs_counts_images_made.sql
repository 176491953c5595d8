-- An image request's progress counts the images it made. Counting failed styles as done made a request
-- canceled after one of three styles read "3/3 images" with one image. The rest of the view is as
-- 20261128002100_search_finds_the_page.sql defines it.
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
