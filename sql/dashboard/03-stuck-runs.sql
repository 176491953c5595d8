-- Runs that are not moving, and why: still queued after five minutes (the webhook never started them;
-- its HTTP outcome is in 06), in progress while their workflow has already ended (the row was left
-- behind: retry_workflow runs it again), waiting five minutes for a worker to take their task, or in
-- progress for over 30 minutes (read the worker log and select * from workflow_steps('<workflow_id>')).
select w.workflow_id, w.kind, w.status, w.durable_state, w.task_state, w.done, w.total, w.unit,
       date_trunc('milliseconds', w.duration) as running_for,
       case
         when w.status = 'queued' then 'queued for over 5 minutes: the webhook never started it'
         when w.durable_state is distinct from 'pending'
           then 'its workflow ended (' || coalesce(w.durable_state, 'no durable record')
                || ') but the row did not: select public.retry_workflow(''' || w.workflow_id || ''')'
         when w.task_state = 'pending' then 'waiting over 5 minutes for a worker: is one running in its group?'
         else 'in progress for over 30 minutes'
       end as why
  from public.workflow_runs w
 where (w.status = 'queued' and w.created_at < now() - interval '5 minutes')
    or (w.status in ('staging', 'importing', 'running', 'crawling', 'indexing')
        and (w.durable_state is distinct from 'pending'
             or (w.task_state = 'pending' and w.duration > interval '5 minutes')
             or w.duration > interval '30 minutes'))
 order by w.created_at;
