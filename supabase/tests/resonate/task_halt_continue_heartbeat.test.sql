-- task.halt, task.continue and task.heartbeat (docs/resonate-protocol.md §5): halt parks any unfulfilled
-- task (no holder, no timer) and is repeatable; continue sends a halted task back to its target at its
-- version; a heartbeat extends the leases of the tasks the caller holds at the versions it names, and no
-- others.
begin;
select plan(12);

do $$
begin
  perform app.rpc_call('promise.create', '{"id": "t/h", "timeoutAt": 9999999999999, "tags": {"resonate:target": "poll://any@g"}}');
  perform app.rpc_call('task.acquire', '{"id": "t/h", "version": 0, "pid": "w1", "ttl": 60000}');
  delete from resonate.outbox;
end
$$;

select is(app.rpc_call('task.halt', '{"id": "t/h"}') -> 'head' ->> 'status', '200', 'an acquired task halts');
select is((select state || ' ' || coalesce(pid, '-') || ' ' || coalesce(timer_kind::text, '-') from resonate.tasks where id = 't/h'),
          'halted - -', 'with no holder and no timer');
select is(app.rpc_call('task.halt', '{"id": "t/h"}') -> 'head' ->> 'status', '200', 'halting it again is fine');
select is(app.rpc_call('task.acquire', '{"id": "t/h", "version": 1, "pid": "w1", "ttl": 60000}') -> 'head' ->> 'status', '409',
          'a halted task cannot be acquired');
select is(app.rpc_call('task.continue', '{"id": "t/h"}') -> 'head' ->> 'status', '200', 'continue resumes it');
select is((select state || ' ' || timer_kind from resonate.tasks where id = 't/h'), 'pending 0', 'pending, its retry timer armed');
select is((select address || ' v' || version from resonate.outbox where task_id = 't/h'), 'poll://any@g v1',
          'and sent to its target at its version');
select is(app.rpc_call('task.continue', '{"id": "t/h"}') -> 'head' ->> 'status', '409', 'a task that is not halted cannot continue');

do $$
begin
  perform app.rpc_call('task.acquire', '{"id": "t/h", "version": 1, "pid": "w1", "ttl": 60000}');
  update resonate.tasks set timer_at = 1 where id = 't/h';
  perform app.rpc_call('task.heartbeat', '{"pid": "w2", "tasks": [{"id": "t/h", "version": 2}]}');
  perform app.rpc_call('task.heartbeat', '{"pid": "w1", "tasks": [{"id": "t/h", "version": 1}]}');
end
$$;
select is((select timer_at from resonate.tasks where id = 't/h'), 1::bigint,
          'a heartbeat from another pid, or at another version, extends nothing');
do $$ begin perform app.rpc_call('task.heartbeat', '{"pid": "w1", "tasks": [{"id": "t/h", "version": 2}]}'); end $$;
select ok((select timer_at between resonate._clock_ms() + 50000 and resonate._clock_ms() + 60000 from resonate.tasks where id = 't/h'),
          'the holder''s heartbeat extends the lease by its ttl');

do $$ begin perform app.rpc_call('promise.settle', '{"id": "t/h", "state": "resolved"}'); end $$;
select is(app.rpc_call('task.halt', '{"id": "t/h"}') -> 'head' ->> 'status', '409', 'a fulfilled task cannot halt');
select is(app.rpc_call('task.halt', '{"id": "t/none"}') -> 'head' ->> 'status', '404', 'an unknown task: 404');

select * from finish();
rollback;
