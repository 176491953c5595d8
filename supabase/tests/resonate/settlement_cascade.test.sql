-- The settlement cascade (resonate._settle_cascade, docs/resonate-protocol.md §3): settling a promise
-- wakes a task suspended on it (pending again, the promise in its resumes, an execute to its target),
-- only buffers the resume for a task that is running, sends an unblock to each listener, and fulfils the
-- promise's own task, dropping its callbacks and its execute message.
begin;
select plan(17);

-- t/w is a workflow held by worker w1 that awaits its child t/w:c.
do $$
begin
  perform app.rpc_call('promise.create',
    '{"id": "t/w", "timeoutAt": 9999999999999, "tags": {"resonate:target": "poll://any@g"}}');
  perform resonate.dequeue_execute('poll://any@g', 10);
  perform app.rpc_call('task.acquire', '{"id": "t/w", "version": 0, "pid": "w1", "ttl": 60000}');
  perform app.rpc_call('promise.create', '{"id": "t/w:c", "timeoutAt": 9999999999999}');
end
$$;
select is(app.rpc_call('task.suspend', '{"id": "t/w", "version": 1, "actions": [
            {"kind": "promise.register_callback", "data": {"awaited": "t/w:c", "awaiter": "t/w"}}]}')
            -> 'head' ->> 'status', '200', 'the task suspends on a pending child');
select is((select state from resonate.tasks where id = 't/w'), 'suspended', 'it is suspended');
select ok(exists (select from resonate.callbacks where awaited = 't/w:c' and awaiter = 't/w'), 'with a callback');
select is_empty($$select from resonate.outbox where task_id = 't/w'$$, 'and no execute outstanding');

do $$ begin perform app.rpc_call('promise.settle', '{"id": "t/w:c", "state": "resolved"}'); end $$;
select is((select state from resonate.tasks where id = 't/w'), 'pending', 'settling the child makes the task pending');
select is((select resumes::text[] from resonate.tasks where id = 't/w'), array['t/w:c'], 'resumed by the child');
select is((select timer_kind from resonate.tasks where id = 't/w'), 0::smallint, 'with its retry timer armed');
select is((select address || ' v' || version from resonate.outbox where task_id = 't/w' and kind = 'execute'),
          'poll://any@g v1', 'and an execute to its target at its current version');
select is_empty($$select from resonate.callbacks where awaited = 't/w:c'$$, 'the callback is consumed');

-- A task that is running when an awaited promise settles reads it itself: the resume is only buffered.
do $$ begin perform app.rpc_call('task.acquire', '{"id": "t/w", "version": 1, "pid": "w1", "ttl": 60000}'); end $$;
delete from resonate.outbox;
do $$
begin
  perform app.rpc_call('promise.create', '{"id": "t/w:d", "timeoutAt": 9999999999999}');
  perform app.rpc_call('promise.register_callback', '{"awaited": "t/w:d", "awaiter": "t/w"}');
  perform app.rpc_call('promise.settle', '{"id": "t/w:d", "state": "resolved"}');
end
$$;
select is((select state || ' ' || resumes::text from resonate.tasks where id = 't/w'), 'acquired {t/w:d}',
          'a running task stays acquired, the resume buffered');
select is_empty($$select from resonate.outbox$$, 'and no execute is sent');

-- Listeners get the settled promise, once per address.
do $$
begin
  perform app.rpc_call('promise.create', '{"id": "t/ext", "timeoutAt": 9999999999999, "tags": {"resonate:scope": "global"}}');
  perform app.rpc_call('promise.register_listener', '{"awaited": "t/ext", "address": "poll://uni@g/w2"}');
  perform app.rpc_call('promise.settle', '{"id": "t/ext", "state": "rejected", "value": {"data": "no"}}');
end
$$;
select is((select promise ->> 'state' from resonate.outbox where kind = 'unblock' and address = 'poll://uni@g/w2'),
          'rejected', 'a listener gets an unblock with the settled promise');
select is_empty($$select from resonate.listeners where awaited = 't/ext'$$, 'and is forgotten');

-- Settling a task's own promise fulfils the task and drops what it was waiting for.
do $$
begin
  perform app.rpc_call('promise.create', '{"id": "t/w:e", "timeoutAt": 9999999999999}');
  perform app.rpc_call('promise.register_callback', '{"awaited": "t/w:e", "awaiter": "t/w"}');
  perform app.rpc_call('task.release', '{"id": "t/w", "version": 2}');
end
$$;
select ok(exists (select from resonate.outbox where task_id = 't/w') and exists (select from resonate.callbacks where awaiter = 't/w'),
          'a released task has an execute outstanding and a callback');
do $$ begin perform app.rpc_call('promise.settle', '{"id": "t/w", "state": "rejected_canceled"}'); end $$;
select is((select state || ' ' || resumes::text from resonate.tasks where id = 't/w'), 'fulfilled {}',
          'settling the task''s own promise fulfils the task');
select is_empty($$select from resonate.callbacks where awaiter = 't/w'$$, 'its callbacks are dropped');
select is_empty($$select from resonate.outbox where task_id = 't/w'$$, 'and so is its execute message');

select * from finish();
rollback;
