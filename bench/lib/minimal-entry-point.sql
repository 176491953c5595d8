-- The least any implementation of the spec's entry point can do for the two requests of a durable step
-- (task.fence wrapping promise.create, then promise.settle): take the request as jsonb, read the task
-- for the fence check, make the one write, and answer with the response shape the SDK reads, with the
-- exception block spec §1.5 asks for. No validation, row locks, timers, callbacks or idempotency keys.
-- bench/durable-steps installs it in its own scratch database only, to price the protocol's shape
-- apart from the resonate schema's logic.
create schema if not exists bench_probe;

create or replace function bench_probe.rpc(req jsonb) returns jsonb
language plpgsql as $$
declare
  d jsonb := req -> 'data';
  a jsonb := d -> 'action';
  ad jsonb := a -> 'data';
  t resonate.tasks;
  p resonate.promises;
  now_ms bigint := floor(extract(epoch from clock_timestamp()) * 1000)::bigint;
begin
  begin
    select * into t from resonate.tasks where id = d ->> 'id';
    if t.state is distinct from 'acquired' or t.version <> (d ->> 'version')::int then
      return jsonb_build_object('kind', 'task.fence', 'head', jsonb_build_object('corrId', req -> 'head' -> 'corrId',
        'status', 409, 'version', req -> 'head' -> 'version'), 'data', 'Fence check failed');
    end if;
    if a ->> 'kind' = 'promise.create' then
      -- As the schema does: a lost create only means the step runs again.
      perform set_config('synchronous_commit', 'off', true);
      insert into resonate.promises (id, state, param, tags, timeout_at, created_at)
      values (ad ->> 'id', 'pending', coalesce(ad -> 'param', '{}'), coalesce(ad -> 'tags', '{}'),
              (ad ->> 'timeoutAt')::bigint, now_ms)
      returning * into p;
    else
      update resonate.promises
      set state = lower(ad ->> 'state'), value = coalesce(ad -> 'value', '{}'), settled_at = now_ms
      where id = ad ->> 'id'
      returning * into p;
    end if;
    return jsonb_build_object('kind', 'task.fence',
      'head', jsonb_build_object('corrId', req -> 'head' -> 'corrId', 'status', 200, 'version', req -> 'head' -> 'version'),
      'data', jsonb_build_object('preload', '[]'::jsonb, 'action', jsonb_build_object('kind', a ->> 'kind',
        'head', jsonb_build_object('corrId', a -> 'head' -> 'corrId', 'status', 200, 'version', a -> 'head' -> 'version'),
        'data', jsonb_build_object('promise', jsonb_build_object('id', p.id, 'state', p.state, 'param', p.param,
          'value', p.value, 'tags', p.tags, 'timeoutAt', p.timeout_at, 'createdAt', p.created_at,
          'settledAt', coalesce(p.settled_at, 0))))));
  exception when others then
    return jsonb_build_object('kind', 'error', 'head', jsonb_build_object('status', 500), 'data', sqlerrm);
  end;
end $$;

-- The task every probe step is fenced against.
insert into resonate.promises (id, state, tags, timeout_at, created_at)
values ('probe-task', 'pending', '{}', 9000000000000, 1) on conflict do nothing;
insert into resonate.tasks (id, state, version) values ('probe-task', 'acquired', 1) on conflict do nothing;
