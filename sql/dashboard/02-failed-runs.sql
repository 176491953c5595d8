-- Runs that failed or partly failed in the last 7 days, with the reason; retry one with
-- `select public.retry_workflow('<workflow_id>');`.
select workflow_id, kind, status, durable_state, last_error, finished_at
  from public.workflow_runs
 where status in ('failed', 'partially_succeeded', 'canceled')
   and created_at > now() - interval '7 days'
 order by created_at desc;
