-- cancel_workflow takes the workflow's turn (an advisory lock on its id without /retry-<n>) before it
-- settles anything. A workload whose steps run many units each takes the same turn before each unit
-- (an import's batches: app.import_count_attempt and app.import_lock_batch, 20261128004102): advisory
-- locks are granted in the order asked for, so a unit that comes after the running one waits for the
-- cancel to commit, and then sees it. Without it the next batch could take the job row before the
-- cancel waiting for that row, and run after the cancel (failures.test.ts saw it under load).
-- Otherwise as in 20261128001102.
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
  base := regexp_replace(target, '/retry-\d+$', '');
  perform pg_advisory_xact_lock(hashtextextended(base, 0));
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
