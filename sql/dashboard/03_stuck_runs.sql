-- Runs still queued after five minutes: the webhook never started them. The HTTP outcome of the
-- trigger's request is in net._http_response (see 06); re-insert nothing, just fix and retry.
select w.workflow_id, w.kind, w.status, w.created_at, w.durable_state
  from public.workflow_runs w
 where w.status = 'queued' and w.created_at < now() - interval '5 minutes'
 order by w.created_at;
