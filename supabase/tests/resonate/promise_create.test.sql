-- promise.create (docs/resonate-protocol.md §5): idempotent by id, a deadline already passed settles the
-- promise at once as timed out, a target makes a task and an execute message, bad input is a 400.
begin;
select plan(9);

select is(app.rpc_call('promise.create', '{"id": "t/a", "timeoutAt": 9999999999999, "param": {"data": "x"}}')
            -> 'head' ->> 'status', '200', 'a new promise is created');
select is((select state from resonate.promises where id = 't/a'), 'pending', 'it is pending');

select is(app.rpc_call('promise.create', '{"id": "t/a", "timeoutAt": 1, "param": {"data": "other"}}')
            -> 'data' -> 'promise' -> 'param' ->> 'data', 'x',
          'creating it again answers the existing promise, unchanged, whatever the new parameters');
select is((select count(*)::int from resonate.promises where id = 't/a'), 1, 'and writes nothing');

select is(app.rpc_call('promise.create', '{"id": "t/late", "timeoutAt": 1}') -> 'data' -> 'promise' ->> 'state',
          'rejected_timedout', 'a deadline already passed: settled at once as timed out');

select is(app.rpc_call('promise.create',
            '{"id": "t/target", "timeoutAt": 9999999999999, "tags": {"resonate:target": "poll://any@workers"}}')
            -> 'head' ->> 'status', '200', 'a promise with a target is created');
select is((select state from resonate.tasks where id = 't/target'), 'pending', 'with a pending task');
select ok(exists (select from resonate.outbox where task_id = 't/target' and kind = 'execute'),
          'and an execute message for its target');

select is(app.rpc_call('promise.create', '{"timeoutAt": 1}') -> 'head' ->> 'status', '400', 'no id: 400');

select * from finish();
rollback;
