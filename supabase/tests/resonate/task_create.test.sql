-- task.create (the SDK's run(), docs/resonate-protocol.md §5): creates the promise and its task already
-- acquired by the caller at version 1 (no execute: the caller runs it); a pending task of an existing
-- promise is acquired instead; an acquired one is a 409; a promise without an address is a 422; a deadline
-- already passed gives a settled promise and a fulfilled task; a promise without a target is a 400.
begin;
select plan(10);

select is(app.rpc_call('task.create', '{"pid": "w1", "ttl": 60000, "action": {"data": {"id": "t/r", "timeoutAt": 9999999999999,
            "param": {}, "tags": {"resonate:target": "poll://any@g"}}}}') -> 'data' -> 'task',
          '{"id": "t/r", "pid": "w1", "ttl": 60000, "state": "acquired", "resumes": [], "version": 1}',
          'a new task is acquired by its creator at version 1');
select is((select state from resonate.promises where id = 't/r'), 'pending', 'with a pending promise');
select is_empty($$select from resonate.outbox where task_id = 't/r'$$, 'and no execute: the creator runs it');
select is(app.rpc_call('task.create', '{"pid": "w2", "ttl": 60000, "action": {"data": {"id": "t/r", "timeoutAt": 9999999999999,
            "param": {}, "tags": {"resonate:target": "poll://any@g"}}}}') -> 'head' ->> 'status', '409',
          'creating it again while it is acquired: 409');

do $$ begin perform app.rpc_call('task.release', '{"id": "t/r", "version": 1}'); end $$;
select is(app.rpc_call('task.create', '{"pid": "w2", "ttl": 60000, "action": {"data": {"id": "t/r", "timeoutAt": 9999999999999,
            "param": {}, "tags": {"resonate:target": "poll://any@g"}}}}') -> 'data' -> 'task' ->> 'version', '2',
          'a pending task is acquired by the creator, one version up');

do $$ begin perform app.rpc_call('promise.create', '{"id": "t/plain", "timeoutAt": 9999999999999}'); end $$;
select is(app.rpc_call('task.create', '{"pid": "w1", "ttl": 60000, "action": {"data": {"id": "t/plain", "timeoutAt": 9999999999999,
            "param": {}, "tags": {"resonate:target": "poll://any@g"}}}}') -> 'head' ->> 'status', '422',
          'an existing promise without an address has no task to take: 422');

select is(app.rpc_call('task.create', '{"pid": "w1", "ttl": 60000, "action": {"data": {"id": "t/late", "timeoutAt": 1,
            "param": {}, "tags": {"resonate:target": "poll://any@g"}}}}') -> 'data' -> 'promise' ->> 'state', 'rejected_timedout',
          'a deadline already passed: the promise is timed out at once');
select is((select state from resonate.tasks where id = 't/late'), 'fulfilled', 'and its task fulfilled');

select is(app.rpc_call('task.create', '{"pid": "w1", "ttl": 60000, "action": {"data": {"id": "t/nt", "timeoutAt": 9999999999999,
            "param": {}, "tags": {}}}}') -> 'head' ->> 'status', '400', 'without a target: 400');
select is_empty($$select from resonate.promises where id = 't/nt'$$, 'and nothing is created');

select * from finish();
rollback;
