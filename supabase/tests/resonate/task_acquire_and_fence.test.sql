-- Task fencing (docs/resonate-protocol.md §4): acquiring a pending task bumps its version, and every
-- later request of the holder (fence, release, fulfill) names that version; a stale one is a 409 and
-- writes nothing, which is what stops a worker whose lease was taken over.
begin;
select plan(18);

do $$ begin perform app.rpc_call('promise.create',
  '{"id": "t/f", "timeoutAt": 9999999999999, "tags": {"resonate:target": "poll://any@g"}}'); end $$;
select is(app.rpc_call('task.acquire', '{"id": "t/f", "version": 1, "pid": "w1", "ttl": 60000}') -> 'head' ->> 'status',
          '409', 'acquiring at a version the task is not at: 409');
select is(app.rpc_call('task.acquire', '{"id": "t/f", "version": 0, "pid": "w1", "ttl": 60000}') -> 'data' -> 'task',
          '{"id": "t/f", "pid": "w1", "ttl": 60000, "state": "acquired", "resumes": [], "version": 1}',
          'acquiring at its version: acquired by the caller, one version up');
select is((select timer_kind from resonate.tasks where id = 't/f'), 1::smallint, 'with its lease timer armed');
select is(app.rpc_call('task.acquire', '{"id": "t/f", "version": 1, "pid": "w2", "ttl": 60000}') -> 'head' ->> 'status',
          '409', 'an acquired task cannot be acquired again');
select is(app.rpc_call('task.acquire', '{"id": "t/none", "version": 0, "pid": "w1", "ttl": 60000}') -> 'head' ->> 'status',
          '404', 'an unknown task: 404');

-- A local step: fenced create, then fenced settle.
select is(app.rpc_call('task.fence', '{"id": "t/f", "version": 0, "action": {"kind": "promise.create",
            "data": {"id": "t/f:0", "timeoutAt": 9999999999999, "param": {}, "tags": {}}}}') -> 'head' ->> 'status',
          '409', 'a fence at a stale version: 409');
select is_empty($$select from resonate.promises where id = 't/f:0'$$, 'and its step is not created');
select is(app.rpc_call('task.fence', '{"id": "t/f", "version": 1, "action": {"kind": "promise.create",
            "data": {"id": "t/f:1", "timeoutAt": 9999999999999, "param": {}, "tags": {}}}}')
            -> 'data' -> 'action' -> 'data' -> 'promise' ->> 'state', 'pending', 'a fence at the current version creates the step');
select is(app.rpc_call('task.fence', '{"id": "t/f", "version": 1, "action": {"kind": "promise.settle",
            "data": {"id": "t/f:1", "state": "resolved", "value": {"data": "v"}}}}')
            -> 'data' -> 'action' -> 'data' -> 'promise' ->> 'state', 'resolved', 'and settles it');
select is(app.rpc_call('task.fence', '{"id": "t/f", "version": 1, "action": {
            "data": {"id": "t/f:2", "state": "resolved", "value": {"data": "v"}}}}') -> 'head' ->> 'status',
          '400', 'an action without a kind is malformed: 400');
select is_empty($$select from resonate.promises where id = 't/f:2'$$, 'and nothing is written for it');
-- A step with a target takes the general path (it makes a task): fenced the same way.
select is(app.rpc_call('task.fence', '{"id": "t/f", "version": 1, "action": {"kind": "promise.create",
            "data": {"id": "t/f:2", "timeoutAt": 9999999999999, "param": {}, "tags": {"resonate:target": "poll://any@g"}}}}')
            -> 'data' -> 'action' -> 'head' ->> 'status', '200', 'a remote step is created through the fence');
select is((select state from resonate.tasks where id = 't/f:2'), 'pending', 'with its own pending task');

-- Released (as after a lease expiry): the old holder's version no longer fences anything.
select is(app.rpc_call('task.release', '{"id": "t/f", "version": 1}') -> 'head' ->> 'status', '200', 'the holder releases');
select is(app.rpc_call('task.fence', '{"id": "t/f", "version": 1, "action": {"kind": "promise.settle",
            "data": {"id": "t/f:2", "state": "resolved", "value": {}}}}') -> 'head' ->> 'status',
          '409', 'a released task''s version fences nothing');
do $$ begin perform app.rpc_call('task.acquire', '{"id": "t/f", "version": 1, "pid": "w2", "ttl": 60000}'); end $$;
select is(app.rpc_call('task.fulfill', '{"id": "t/f", "version": 1, "action": {"data": {"id": "t/f", "state": "resolved", "value": {}}}}')
            -> 'head' ->> 'status', '409', 'the previous holder cannot fulfil it');
select is(app.rpc_call('task.fulfill', '{"id": "t/f", "version": 2, "action": {"data": {"id": "t/f", "state": "resolved", "value": {}}}}')
            -> 'data' -> 'promise' ->> 'state', 'resolved', 'the new holder fulfils its promise');
select is((select state from resonate.tasks where id = 't/f'), 'fulfilled', 'and the task is fulfilled');

select * from finish();
rollback;
