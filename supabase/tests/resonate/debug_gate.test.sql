-- The debug gate (20261121000170_resonate_debug.sql): debug.reset, debug.snap and debug.tick, and a
-- request's pinned clock head["resonate:debug_time"], are for test harnesses only. A role outside
-- resonate_debugger gets 403 for the requests (whatever its session settings) and its debug_time is
-- ignored; a member still needs `set resonate.debug_time = on`, else 501 and the database clock.
begin;
select plan(12);

-- Whatever an earlier harness on this cluster granted, start as a non-member (quietly: it may not be one).
set local client_min_messages = error;
revoke resonate_debugger from postgres;
reset client_min_messages;
set local resonate.debug_time = on;
do $$ begin perform app.rpc_call('promise.create', '{"id": "t/keep", "timeoutAt": 9999999999999}'); end $$;

select is(app.rpc_call('debug.reset', '{}') -> 'head' ->> 'status', '403', 'debug.reset from a non-member: 403');
select ok(exists (select from resonate.promises where id = 't/keep'), 'and the store is not wiped');
select is(app.rpc_call('debug.snap', '{}') -> 'head' ->> 'status', '403', 'debug.snap: 403');
select is(app.rpc_call('debug.tick', '{"time": 9999999999999}') -> 'head' ->> 'status', '403', 'debug.tick: 403');
select is((select state from resonate.promises where id = 't/keep'), 'pending', 'and time does not move');
select is(resonate.resonate_rpc('{"kind": "promise.create", "head": {"resonate:debug_time": 1000},
            "data": {"id": "t/pinned", "timeoutAt": 2000}}') -> 'data' -> 'promise' ->> 'state', 'rejected_timedout',
          'a non-member''s debug_time is ignored: on the database clock a deadline of 2000 has passed');
select is((resonate.resonate_batch('[[{"kind": "debug.reset", "data": {}}]]') -> 0 -> 0 -> 'head' ->> 'status'), '403',
          'the gate holds inside a batch too');

grant resonate_debugger to postgres;
set local resonate.debug_time = off;
select is(app.rpc_call('debug.snap', '{}') -> 'head' ->> 'status', '501', 'a member without the session setting: 501');
set local resonate.debug_time = on;
select is(resonate.resonate_rpc('{"kind": "promise.create", "head": {"resonate:debug_time": 1000},
            "data": {"id": "t/pinned2", "timeoutAt": 2000}}') -> 'data' -> 'promise' ->> 'createdAt', '1000',
          'a member with the setting on pins the clock');
-- The caller is the role the session set (PostgREST's service_role), not the login role that is a member.
set local role service_role;
select is(resonate.resonate_rpc('{"kind": "debug.reset", "data": {}}') -> 'head' ->> 'status', '403',
          'service_role is refused debug requests even when the login role is a member');
reset role;
select is(app.rpc_call('debug.tick', '{"time": 9999999999999}') -> 'head' ->> 'status', '200', 'the member may move time');
select is((select state from resonate.promises where id = 't/keep'), 'rejected_timedout', 'which settles what is due');

select * from finish();
rollback;
