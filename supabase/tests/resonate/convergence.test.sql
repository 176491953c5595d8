-- Eager convergence (resonate._converge, docs/resonate-protocol.md §3): any request that touches a
-- promise past its deadline first settles it, with its cascade, in the same transaction, so what the
-- store holds is what every answer shows even before a timer pass runs.
begin;
select plan(6);

do $$
begin
  perform app.rpc_call('promise.create', '{"id": "t/w", "timeoutAt": 9999999999999, "tags": {"resonate:target": "poll://any@g"}}');
  perform app.rpc_call('task.acquire', '{"id": "t/w", "version": 0, "pid": "w1", "ttl": 60000}');
  perform app.rpc_call('promise.create', '{"id": "t/w:c", "timeoutAt": 9999999999999}');
  perform app.rpc_call('task.suspend', '{"id": "t/w", "version": 1, "actions": [
    {"kind": "promise.register_callback", "data": {"awaited": "t/w:c", "awaiter": "t/w"}}]}');
  delete from resonate.outbox;
  -- The child is now past its deadline, and no timer pass has run.
  update resonate.promises set timeout_at = 1000 where id = 't/w:c';
end
$$;

select is(app.rpc_call('promise.get', '{"id": "t/w:c"}') -> 'data' -> 'promise' ->> 'state', 'rejected_timedout',
          'a read of a promise past its deadline answers it timed out');
select is((select state || '@' || settled_at from resonate.promises where id = 't/w:c'), 'rejected_timedout@1000',
          'and the read settled it in the store, at its deadline');
select is((select state from resonate.tasks where id = 't/w'), 'pending', 'with its cascade: the awaiting task woke');
select ok(exists (select from resonate.outbox where task_id = 't/w'), 'and was sent to its target');

update resonate.promises set timeout_at = 1000 where id = 't/w';
select is(app.rpc_call('task.get', '{"id": "t/w"}') -> 'data' -> 'task' ->> 'state', 'fulfilled',
          'a task whose promise is past its deadline reads fulfilled');
select is((select state from resonate.tasks where id = 't/w'), 'fulfilled', 'and is stored fulfilled');

select * from finish();
rollback;
