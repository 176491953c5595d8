-- task.suspend (docs/resonate-protocol.md §5): the holder suspends its task on promises it awaits. If one
-- of them has already settled the answer is 300 (go on running, with the preload) and the task stays
-- acquired; otherwise callbacks are recorded and the task suspends, releasing its lease. Awaiting an
-- unknown promise is a 422, awaiting itself or nothing a 400, a stale version a 409.
begin;
select plan(10);

do $$
begin
  perform app.rpc_call('promise.create', '{"id": "t/s", "timeoutAt": 9999999999999, "tags": {"resonate:target": "poll://any@g"}}');
  perform app.rpc_call('task.acquire', '{"id": "t/s", "version": 0, "pid": "w1", "ttl": 60000}');
  perform app.rpc_call('promise.create', '{"id": "t/s:a", "timeoutAt": 9999999999999}');
  perform app.rpc_call('promise.create', '{"id": "t/s:b", "timeoutAt": 9999999999999}');
  perform app.rpc_call('promise.settle', '{"id": "t/s:b", "state": "resolved"}');
end
$$;

create function pg_temp.suspend(version int, awaited text[]) returns text language sql as $$
  select app.rpc_call('task.suspend', jsonb_build_object('id', 't/s', 'version', version, 'actions',
    coalesce((select jsonb_agg(jsonb_build_object('kind', 'promise.register_callback',
                'data', jsonb_build_object('awaited', a, 'awaiter', 't/s'))) from unnest(awaited) a), '[]'::jsonb)))
    -> 'head' ->> 'status'
$$;

select is(pg_temp.suspend(1, array['t/s:a', 't/s:b']), '300', 'one awaited promise already settled: 300');
select is((select state from resonate.tasks where id = 't/s'), 'acquired', 'the task keeps running');
select is_empty($$select from resonate.callbacks$$, 'and no callback is left behind');

select is(pg_temp.suspend(1, array['t/s:none']), '422', 'an unknown awaited promise: 422');
select is(pg_temp.suspend(1, array['t/s']), '400', 'awaiting its own promise: 400');
select is(pg_temp.suspend(1, '{}'), '400', 'awaiting nothing: 400');
select is(pg_temp.suspend(0, array['t/s:a']), '409', 'a stale version: 409');

select is(pg_temp.suspend(1, array['t/s:a', 't/s:a']), '200', 'all awaited promises pending: suspended');
select is((select state || ' ' || coalesce(pid, '-') || ' ' || coalesce(timer_kind::text, '-') from resonate.tasks where id = 't/s'),
          'suspended - -', 'with no holder and no lease');
select is((select array_agg(awaited)::text[] from resonate.callbacks where awaiter = 't/s'), array['t/s:a'],
          'and one callback per awaited promise');

select * from finish();
rollback;
