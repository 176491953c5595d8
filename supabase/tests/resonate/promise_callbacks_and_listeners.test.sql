-- promise.register_callback and promise.register_listener (docs/resonate-protocol.md §5): a callback
-- ties an awaiter that has an address to a pending awaited promise; a listener needs an awaitable
-- (external) promise. Nothing is registered on a settled promise, which is answered as it is, so the
-- caller proceeds without waiting. Unknown ids and bad pairs get their statuses.
begin;
select plan(13);

do $$
begin
  perform app.rpc_call('promise.create', '{"id": "t/a", "timeoutAt": 9999999999999, "tags": {"resonate:target": "poll://any@g"}}');
  perform app.rpc_call('promise.create', '{"id": "t/a:c", "timeoutAt": 9999999999999}');
  perform app.rpc_call('promise.create', '{"id": "t/local", "timeoutAt": 9999999999999}');
  perform app.rpc_call('promise.create', '{"id": "t/done", "timeoutAt": 9999999999999, "tags": {"resonate:scope": "global"}}');
  perform app.rpc_call('promise.settle', '{"id": "t/done", "state": "resolved"}');
end
$$;

select is(app.rpc_call('promise.register_callback', '{"awaited": "t/a:c", "awaiter": "t/a"}') -> 'head' ->> 'status', '200',
          'a task''s promise awaits a pending one');
select ok(exists (select from resonate.callbacks where awaited = 't/a:c' and awaiter = 't/a'), 'the callback is recorded');
select is(app.rpc_call('promise.register_callback', '{"awaited": "t/a:c", "awaiter": "t/a"}') -> 'head' ->> 'status', '200',
          'registering it twice is fine');
select is((select count(*)::int from resonate.callbacks), 1, 'and records it once');
select is(app.rpc_call('promise.register_callback', '{"awaited": "t/done", "awaiter": "t/a"}') -> 'data' -> 'promise' ->> 'state',
          'resolved', 'a settled awaited promise is answered as it is');
select is_empty($$select from resonate.callbacks where awaited = 't/done'$$, 'with no callback');
select is(app.rpc_call('promise.register_callback', '{"awaited": "t/a:c", "awaiter": "t/local"}') -> 'head' ->> 'status', '422',
          'an awaiter without an address: 422');
select is(app.rpc_call('promise.register_callback', '{"awaited": "t/none", "awaiter": "t/a"}') -> 'head' ->> 'status', '404',
          'an unknown awaited promise: 404');
select is(app.rpc_call('promise.register_callback', '{"awaited": "t/a", "awaiter": "t/a"}') -> 'head' ->> 'status', '400',
          'a promise awaiting itself: 400');

select is(app.rpc_call('promise.register_listener', '{"awaited": "t/a", "address": "poll://uni@g/w1"}') -> 'head' ->> 'status', '200',
          'a listener on a promise with a target');
select is(app.rpc_call('promise.register_listener', '{"awaited": "t/local", "address": "poll://uni@g/w1"}') -> 'head' ->> 'status', '422',
          'a local step is not awaitable: 422');
select is(app.rpc_call('promise.register_listener', '{"awaited": "t/done", "address": "poll://uni@g/w1"}') -> 'data' -> 'promise' ->> 'state',
          'resolved', 'a settled promise is answered as it is');
select is((select array_agg(awaited)::text[] from resonate.listeners), array['t/a'], 'and only the pending one is listened to');

select * from finish();
rollback;
