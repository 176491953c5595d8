-- The timer pass (resonate.process_timeouts(now), docs/resonate-protocol.md §6): an acquired task whose
-- lease ran out is released (pending, same version, an execute to its target), a pending task's retry
-- timer sends its execute again, and pending promises past their deadline are settled timed out. Nothing
-- that is not yet due changes.
begin;
select plan(12);

create temporary table t0 on commit drop as select resonate._clock_ms() as now;

do $$
begin
  perform app.rpc_call('promise.create',
    '{"id": "t/l", "timeoutAt": 9999999999999, "tags": {"resonate:target": "poll://any@g/w1"}}');
  perform app.rpc_call('task.acquire', '{"id": "t/l", "version": 0, "pid": "w1", "ttl": 10000}');
  delete from resonate.outbox;
end
$$;

select is(resonate.process_timeouts((select now from t0) + 5000), 0, 'before the lease runs out nothing is due');
select is((select state from resonate.tasks where id = 't/l'), 'acquired', 'the task stays acquired');

select is(resonate.process_timeouts((select now from t0) + 60000), 1, 'after it, one timer fires');
select is((select state || ' v' || version || ' ' || coalesce(pid, '-') from resonate.tasks where id = 't/l'),
          'pending v1 -', 'the task is released: pending, same version, no holder');
select is((select address || ' v' || version from resonate.outbox where task_id = 't/l'), 'poll://any@g v1',
          'and offered again to its group (the pid in the target dropped)');
select is(app.rpc_call('task.fence', '{"id": "t/l", "version": 1, "action": {"kind": "promise.create",
            "data": {"id": "t/l:x", "timeoutAt": 9999999999999, "param": {}, "tags": {}}}}') -> 'head' ->> 'status',
          '409', 'the expired holder is fenced off');

delete from resonate.outbox;
select is(resonate.process_timeouts((select now from t0) + 60000 + 30000 + 1000), 1, 'a pending task''s retry timer fires');
select ok(exists (select from resonate.outbox where task_id = 't/l' and kind = 'execute'), 'and sends its execute again');

do $$ begin perform app.rpc_call('promise.create', '{"id": "t/d", "timeoutAt": 9999999999000}'); end $$;
insert into resonate.promises (id, state, timeout_at, created_at, tags)
  values ('t/timer', 'pending', 9999999999000, 1, '{"resonate:timer": "true"}');
select is(resonate.process_timeouts(9999999999999), 3,
          'at their deadlines the three pending promises settle, and only they count');
select is((select state || '@' || settled_at from resonate.promises where id = 't/d'), 'rejected_timedout@9999999999000',
          'a promise past its deadline is timed out, settled at the deadline');
select is((select state from resonate.promises where id = 't/timer'), 'resolved', 'a timer promise resolves');
select is((select state from resonate.tasks where id = 't/l'), 'fulfilled', 'a task whose promise timed out is fulfilled');

select * from finish();
rollback;
