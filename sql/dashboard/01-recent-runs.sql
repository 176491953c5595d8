-- Recent runs of every workload, newest first, with progress and the last error.
select workflow_id, kind, status, done || '/' || total || ' ' || unit as progress,
       date_trunc('milliseconds', duration) as duration, attempts, retries, last_error
  from public.workflow_runs
 order by created_at desc
 limit 50;
