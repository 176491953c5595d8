-- The outbox (20261121000120_resonate_outbox.sql): an anycast target naming a pid is delivered to its
-- group (PostgresNetwork dequeues by the group's address); a task has at most one execute outstanding,
-- at its latest version; dequeue_execute and dequeue_unblock hand out an address's messages in order, up
-- to the limit, and delete what they hand out; outbox_channel is a valid LISTEN channel for any address.
begin;
select plan(10);

do $$
begin
  perform app.rpc_call('promise.create', '{"id": "t/1", "timeoutAt": 9999999999999, "tags": {"resonate:target": "poll://any@g/w9"}}');
  perform app.rpc_call('promise.create', '{"id": "t/2", "timeoutAt": 9999999999999, "tags": {"resonate:target": "poll://any@g"}}');
  perform app.rpc_call('promise.create', '{"id": "t/3", "timeoutAt": 9999999999999, "tags": {"resonate:target": "poll://uni@g/w1"}}');
end
$$;

select is((select address from resonate.outbox where task_id = 't/1'), 'poll://any@g',
          'an anycast target naming a pid is delivered to the group');
select is((select address from resonate.outbox where task_id = 't/3'), 'poll://uni@g/w1', 'a unicast target is kept as it is');

do $$
begin
  perform app.rpc_call('task.acquire', '{"id": "t/2", "version": 0, "pid": "w1", "ttl": 60000}');
  perform app.rpc_call('task.release', '{"id": "t/2", "version": 1}');
end
$$;
select is((select array_agg(version) from resonate.outbox where task_id = 't/2'), array[1],
          'a task has one execute outstanding, at its latest version');

select is((select array_agg(task_id || ' v' || version) from resonate.dequeue_execute('poll://any@g', 1)), array['t/1 v0'],
          'dequeue_execute hands out the oldest message first, up to the limit');
select is((select array_agg(task_id) from resonate.dequeue_execute('poll://any@g', 10)), array['t/2'], 'then the rest');
select is_empty($$select from resonate.dequeue_execute('poll://any@g', 10)$$, 'and what it handed out is gone');
select is((select array_agg(task_id) from resonate.outbox), array['t/3'], 'another address''s messages stay');
select is_empty($$select from resonate.dequeue_execute('poll://uni@g/w1', -1)$$, 'a negative limit hands out nothing');

do $$
begin
  perform app.rpc_call('promise.create', '{"id": "t/ext", "timeoutAt": 9999999999999, "tags": {"resonate:scope": "global"}}');
  perform app.rpc_call('promise.register_listener', '{"awaited": "t/ext", "address": "poll://uni@g/w1"}');
  perform app.rpc_call('promise.settle', '{"id": "t/ext", "state": "resolved", "value": {"data": "v"}}');
end
$$;
select is((select array_agg(promise ->> 'id' || ' ' || (promise -> 'value' ->> 'data')) from resonate.dequeue_unblock('poll://uni@g/w1', 10)),
          array['t/ext v'], 'dequeue_unblock hands out the settled promise');

select is(length(resonate.outbox_channel(repeat('poll://any@a-very-long-group-name/', 5))), 43,
          'a channel name is short enough for LISTEN whatever the address');

select * from finish();
rollback;
