-- A task version is named exactly (docs/resonate-protocol.md §4: task.acquire "must quote it exactly",
-- fencing needs "the version is equal", a heartbeat renews a task "acquired with the same version"), as
-- the reference compares it (task.version !== version): a number that is no whole version (1.5, or one
-- past int4) equals none, in every request that names one. Acquire and the fences answer 409 and write
-- nothing; a heartbeat skips the entry. Neither rounds it, down or up, onto the version next to it.
-- 1.0 is the number 1, in JSON as in JavaScript. A version that is not a number at all is malformed
-- where the request is answered (400); a heartbeat, always 200, skips it.
begin;
select plan(20);

do $$
begin
  perform app.rpc_call('promise.create', '{"id": "t/v", "timeoutAt": 9999999999999, "tags": {"resonate:target": "poll://any@g"}}');
  perform app.rpc_call('promise.create', '{"id": "t/h", "timeoutAt": 9999999999999, "tags": {"resonate:target": "poll://any@g"}}');
  perform app.rpc_call('task.acquire', '{"id": "t/h", "version": 0, "pid": "w1", "ttl": 60000}');
  perform app.rpc_call('promise.create', '{"id": "t/v-awaited", "timeoutAt": 9999999999999, "tags": {"resonate:scope": "global"}}');
end
$$;

select is(app.rpc_call('task.acquire', '{"id": "t/v", "version": 0.5, "pid": "w1", "ttl": 60000}') -> 'head' ->> 'status',
          '409', 'acquire at 0.5 when the task is at 0: 409, not rounded down to 0');
select is(app.rpc_call('task.acquire', '{"id": "t/v", "version": -0.5, "pid": "w1", "ttl": 60000}') -> 'head' ->> 'status',
          '409', 'acquire at -0.5: 409, not rounded up to 0');
select is(app.rpc_call('task.acquire', '{"id": "t/v", "version": 4294967296, "pid": "w1", "ttl": 60000}') -> 'head' ->> 'status',
          '409', 'acquire at a version past int4: 409, a version it is not at');
select is((select state || ' v' || version from resonate.tasks where id = 't/v'), 'pending v0', 'none of them acquired it');
select is(app.rpc_call('task.acquire', '{"id": "t/v", "version": "0", "pid": "w1", "ttl": 60000}') -> 'head' ->> 'status',
          '400', 'a version that is not a number: 400');
select is(app.rpc_call('task.acquire', '{"id": "t/v", "version": 0.0, "pid": "w1", "ttl": 60000}') -> 'data' -> 'task' ->> 'version',
          '1', 'acquire at 0.0, which is 0: acquired, at version 1');

-- Fences at 1.5 while the task is at 1: the general path (release, fulfill, suspend) and the fast path
-- of a local step's fence alike.
select is(app.rpc_call('task.fence', '{"id": "t/v", "version": 1.5, "action": {"kind": "promise.create",
            "data": {"id": "t/v:0", "timeoutAt": 9999999999999, "param": {}, "tags": {}}}}') -> 'head' ->> 'status',
          '409', 'a local step''s fence at 1.5: 409');
select is_empty($$select from resonate.promises where id = 't/v:0'$$, 'and its step is not created');
select is(app.rpc_call('task.fence', '{"id": "t/v", "version": 1.5, "action": {"kind": "promise.create",
            "data": {"id": "t/v:1", "timeoutAt": 9999999999999, "param": {}, "tags": {"resonate:target": "poll://any@g"}}}}') -> 'head' ->> 'status',
          '409', 'a child workflow''s fence at 1.5 (the general path): 409');
select is(app.rpc_call('task.release', '{"id": "t/v", "version": 1.5}') -> 'head' ->> 'status', '409', 'release at 1.5: 409');
select is(app.rpc_call('task.suspend', '{"id": "t/v", "version": 1.5, "actions": [{"kind": "promise.register_callback",
            "data": {"awaiter": "t/v", "awaited": "t/v-awaited"}}]}') -> 'head' ->> 'status', '409', 'suspend at 1.5: 409');
select is_empty($$select from resonate.callbacks where awaiter = 't/v'$$, 'and it registers no callback');
select is(app.rpc_call('task.fulfill', '{"id": "t/v", "version": 1.5, "action": {"kind": "promise.settle",
            "data": {"id": "t/v", "state": "resolved", "value": {}}}}') -> 'head' ->> 'status', '409', 'fulfill at 1.5: 409');
select is((select state || ' v' || version from resonate.tasks where id = 't/v'), 'acquired v1', 'the task is still held at 1');
select is((select state from resonate.promises where id = 't/v'), 'pending', 'and its promise still pending');

-- The adapter's compact form of local steps declines a version that is no whole number (nothing
-- written), so that the general path answers it: 409, as above.
select is(resonate.resonate_batch('[[{"kind": "steps.fused", "id": "t/h", "version": 1.5,
            "steps": [["t/h:0", 9999999999999, {}, {}, "resolved", {}]]}]]')::jsonb, '[[[]]]'::jsonb,
          'steps in compact form at 1.5, for a task at 1: none written');

-- Heartbeats, for a task held at 1.
do $$ begin update resonate.tasks set timer_at = 1 where id = 't/h'; end $$;
select is(app.rpc_call('task.heartbeat', '{"pid": "w1", "tasks": [{"id": "t/h", "version": 0.6}, {"id": "t/h", "version": 1.4},
            {"id": "t/h", "version": "1"}, {"id": "t/h"}]}') -> 'head' ->> 'status',
          '200', 'a heartbeat naming versions that are no whole number, or not a number: 200');
select is((select timer_at from resonate.tasks where id = 't/h'), 1::bigint,
          'and it renews nothing: 0.6 is not rounded up to 1, nor 1.4 down to it, nor "1" read as 1');
do $$ begin perform app.rpc_call('task.heartbeat', '{"pid": "w1", "tasks": [{"id": "t/h", "version": 1.0}]}'); end $$;
select ok((select timer_at > resonate._clock_ms() from resonate.tasks where id = 't/h'), 'at 1.0, which is 1, it renews the lease');
select is(app.rpc_call('task.fulfill', '{"id": "t/h", "version": 1.0, "action": {"kind": "promise.settle",
            "data": {"id": "t/h", "state": "resolved", "value": {}}}}') -> 'head' ->> 'status', '200', 'and fulfill at 1.0 fulfills it');

select * from finish();
rollback;
