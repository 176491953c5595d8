-- Worker liveness (20261121000190_resonate_worker_entry_points.sql), the parts one session can show:
-- worker_register takes a fresh advisory lock key, records it, and releases the tasks held under its id
-- that it is not running; held_tasks lists what the store shows it holding; worker_tick releases the
-- tasks of a dead worker of its group (one whose key no session holds), forgets that worker, and hands
-- out execute messages (bringing their retry timer forward to the claim) and this process's unblocks.
begin;
select plan(14);

do $$
declare
  id text;
begin
  foreach id in array array['t/held', 't/keep', 't/other', 't/dead', 't/far'] loop
    perform app.rpc_call('promise.create', jsonb_build_object('id', id, 'timeoutAt', 9999999999999,
      'tags', jsonb_build_object('resonate:target', case when id = 't/far' then 'poll://any@h' else 'poll://any@g' end)));
    perform app.rpc_call('task.acquire', jsonb_build_object('id', id, 'version', 0, 'ttl', 600000,
      'pid', case id when 't/other' then 'w2' when 't/dead' then 'dead' when 't/far' then 'far' else 'w1' end));
  end loop;
  delete from resonate.outbox;
end
$$;
insert into resonate.workers (pid, anycast, lock_key, registered_at) values
  ('dead', 'poll://any@g', -7, 0), ('far', 'poll://any@h', -8, 0);

select is(resonate.worker_register('w1', 'poll://any@g', 'poll://uni@g/w1', array['t/keep']), array['t/held'],
          'registering releases the tasks held under the id that the caller is not running');
select is((select state || ' v' || version from resonate.tasks where id = 't/held'), 'pending v1', 'released at its version');
select ok(exists (select from resonate.outbox where task_id = 't/held' and address = 'poll://any@g'),
          'and offered to the group');
select is((select array_agg(state order by id) from resonate.tasks where id in ('t/keep', 't/other')), array['acquired', 'acquired'],
          'the kept task and another worker''s stay acquired');
select ok(exists (select from resonate.workers w join pg_locks l
                    on l.locktype = 'advisory' and l.classid = resonate._worker_lock_ns()::oid and l.objid = w.lock_key::oid
                   and l.objsubid = 2 and l.pid = pg_backend_pid() and l.granted
                   where w.pid = 'w1'), 'the worker row names an advisory lock this session holds');
select is((select array_agg(id || ' v' || version) from resonate.held_tasks('w1')), array['t/keep v1'], 'held_tasks lists what it holds');

create temporary table first_key on commit drop as select lock_key from resonate.workers where pid = 'w1';
select is(resonate.worker_register('w1', 'poll://any@g', 'poll://uni@g/w1', '{}'), array['t/keep'],
          're-registering with nothing running releases the rest');
select isnt((select lock_key from resonate.workers where pid = 'w1'), (select lock_key from first_key),
            'under a fresh lock key');

delete from resonate.outbox;
do $$
begin
  perform app.rpc_call('promise.create', '{"id": "t/ext", "timeoutAt": 9999999999999, "tags": {"resonate:scope": "global"}}');
  perform app.rpc_call('promise.register_listener', '{"awaited": "t/ext", "address": "poll://uni@g/w1"}');
  perform app.rpc_call('promise.settle', '{"id": "t/ext", "state": "resolved"}');
end
$$;
create temporary table tick on commit drop as
  select * from resonate.worker_tick('w1', 'poll://any@g', 'poll://uni@g/w1', 10, 5000);
select is((select state from resonate.tasks where id = 't/dead'), 'pending', 'a tick releases a dead worker''s task');
select is_empty($$select from resonate.workers where pid = 'dead'$$, 'and forgets the dead worker');
select is((select state from resonate.tasks where id = 't/far'), 'acquired', 'a dead worker of another group is not its business');
select is((select array_agg(task_id || ' v' || version) from tick where kind = 'execute'), array['t/dead v1'],
          'the tick hands out the released task''s execute');
select ok((select timer_at < resonate._clock_ms() + 10000 from resonate.tasks where id = 't/dead'),
          'with its retry timer brought forward to the claim (5 s, not 30 s)');
select is((select array_agg(promise ->> 'id') from tick where kind = 'unblock'), array['t/ext'],
          'and this process''s unblock messages');

select * from finish();
rollback;
