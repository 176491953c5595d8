-- promise.settle (docs/resonate-protocol.md §5): the first writer wins, an unknown id is a 404, only a
-- client's states (resolved, rejected, rejected_canceled) are accepted, and a promise already past its
-- deadline is converged to timed out instead of taking the requested state.
begin;
select plan(13);

do $$ begin perform app.rpc_call('promise.create', '{"id": "t/s", "timeoutAt": 9999999999999}'); end $$;
select is(app.rpc_call('promise.settle', '{"id": "t/s", "state": "resolved", "value": {"data": "first"}}')
            -> 'data' -> 'promise' ->> 'state', 'resolved', 'a pending promise takes the requested state');
select is((select value ->> 'data' from resonate.promises where id = 't/s'), 'first', 'and stores its value');
select ok((select settled_at is not null from resonate.promises where id = 't/s'), 'and its settlement time');

select is(app.rpc_call('promise.settle', '{"id": "t/s", "state": "rejected", "value": {"data": "second"}}')
            -> 'head' ->> 'status', '200', 'settling it again is not an error');
select is((select state || ':' || (value ->> 'data') from resonate.promises where id = 't/s'), 'resolved:first',
          'but the first writer wins: state and value are unchanged');

select is(app.rpc_call('promise.settle', '{"id": "t/none", "state": "resolved"}') -> 'head' ->> 'status', '404',
          'an unknown promise is a 404');

do $$ begin perform app.rpc_call('promise.create', '{"id": "t/b", "timeoutAt": 9999999999999}'); end $$;
select is(app.rpc_call('promise.settle', '{"id": "t/b", "state": "rejected_timedout"}') -> 'head' ->> 'status', '400',
          'rejected_timedout is the store''s state to set, not a client''s: 400');
select is(app.rpc_call('promise.settle', '{"id": "t/b", "state": "pending"}') -> 'head' ->> 'status', '400',
          'pending is not a settlement: 400');
select is(app.rpc_call('promise.settle', '{"id": "t/b"}') -> 'head' ->> 'status', '400', 'no state: 400');
select is((select state from resonate.promises where id = 't/b'), 'pending', 'a refused settlement writes nothing');

-- Rows already past their deadline, as a timer pass that has not run yet leaves them.
insert into resonate.promises (id, state, timeout_at, created_at, tags) values
  ('t/late', 'pending', 1000, 1, '{}'),
  ('t/sleep', 'pending', 1000, 1, '{"resonate:timer": "true"}');
select is(app.rpc_call('promise.settle', '{"id": "t/late", "state": "resolved"}') -> 'data' -> 'promise' ->> 'state',
          'rejected_timedout', 'past its deadline a promise answers timed out, whatever state was requested');
select is((select state || '@' || settled_at from resonate.promises where id = 't/late'), 'rejected_timedout@1000',
          'and is stored timed out, settled at its deadline');
select is(app.rpc_call('promise.settle', '{"id": "t/sleep", "state": "rejected"}') -> 'data' -> 'promise' ->> 'state',
          'resolved', 'a timer promise (resonate:timer) past its deadline resolves instead');

select * from finish();
rollback;
