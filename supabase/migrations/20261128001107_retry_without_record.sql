-- A run whose durable record is gone (resonate.gc removes settled workflows after 7 days, or the
-- store was reset) could not be retried: retry_workflow copied the function and arguments from the
-- newest attempt's promise, found none, and said the workflow "never started", which reads as if the
-- row had been refused. A failed import keeps its staged rows precisely so it can be retried. Every
-- workload's arguments follow from its row, so a row whose workflow did start (started_at is set) is
-- retried from the row.

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
  param jsonb;
  target text;
begin
  select * into latest from resonate.workflow_attempts(base) p order by p.created_at desc limit 1;
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
