-- resonate._task_fence_fast, the fast path for a local step's two fences: where it answers, its answer
-- and its writes are exactly the general path's (resonate._dispatch) at the same instant; everywhere
-- else (a target, a cascade to run, a failed fence, a deadline passed, a settled step) it answers null
-- and writes nothing, leaving the request to the general path.
begin;
select plan(11);

do $$
begin
  perform app.rpc_call('promise.create', '{"id": "t/w", "timeoutAt": 9999999999999, "tags": {"resonate:target": "poll://any@g"}}');
  perform app.rpc_call('task.acquire', '{"id": "t/w", "version": 0, "pid": "w1", "ttl": 60000}');
  perform app.rpc_call('promise.create', '{"id": "t/w:old", "timeoutAt": 9999999999999, "param": {"data": "p"}}');
  perform app.rpc_call('promise.create', '{"id": "t/w:heard", "timeoutAt": 9999999999999, "tags": {"resonate:scope": "global"}}');
  perform app.rpc_call('promise.register_listener', '{"awaited": "t/w:heard", "address": "poll://uni@g/w2"}');
  perform app.rpc_call('promise.create', '{"id": "t/w:due", "timeoutAt": 9999999999999}');
  update resonate.promises set timeout_at = 1000 where id = 't/w:due';
end
$$;

-- Each case runs both paths in subtransactions that are rolled back, keeping their answers and the
-- step's row as written.
create temporary table runs (name text, fast jsonb, general jsonb, fast_row jsonb, general_row jsonb) on commit drop;
create function pg_temp.compare(p_name text, p_data jsonb) returns void language plpgsql as $$
declare
  v_now bigint := 5000000000000;
  v_fast jsonb;
  v_general jsonb;
  v_fast_row jsonb;
  v_general_row jsonb;
begin
  begin
    v_fast := resonate._task_fence_fast(p_data, v_now);
    select to_jsonb(p) into v_fast_row from resonate.promises p where id = p_data #>> '{action,data,id}';
    raise exception 'undo';
  exception when raise_exception then
  end;
  begin
    v_general := resonate._dispatch(jsonb_build_object('kind', 'task.fence', 'data', p_data), v_now);
    select to_jsonb(p) into v_general_row from resonate.promises p where id = p_data #>> '{action,data,id}';
    raise exception 'undo';
  exception when raise_exception then
  end;
  insert into runs values (p_name, v_fast, v_general, v_fast_row, v_general_row);
end
$$;

select pg_temp.compare('new step', '{"id": "t/w", "version": 1, "action": {"kind": "promise.create", "head": {"corrId": "c"},
  "data": {"id": "t/w:new", "timeoutAt": 9999999999999, "param": {"data": "x"}, "tags": {"k": "v"}}}}');
select pg_temp.compare('existing step', '{"id": "t/w", "version": 1, "action": {"kind": "promise.create",
  "data": {"id": "t/w:old", "timeoutAt": 1, "param": {}, "tags": {}}}}');
select pg_temp.compare('settle', '{"id": "t/w", "version": 1, "action": {"kind": "promise.settle",
  "data": {"id": "t/w:old", "state": "rejected", "value": {"data": "e"}}}}');
select pg_temp.compare('target', '{"id": "t/w", "version": 1, "action": {"kind": "promise.create",
  "data": {"id": "t/w:remote", "timeoutAt": 9999999999999, "param": {}, "tags": {"resonate:target": "poll://any@g"}}}}');
select pg_temp.compare('listener', '{"id": "t/w", "version": 1, "action": {"kind": "promise.settle",
  "data": {"id": "t/w:heard", "state": "resolved", "value": {}}}}');
select pg_temp.compare('stale', '{"id": "t/w", "version": 0, "action": {"kind": "promise.create",
  "data": {"id": "t/w:stale", "timeoutAt": 9999999999999, "param": {}, "tags": {}}}}');
select pg_temp.compare('past deadline', '{"id": "t/w", "version": 1, "action": {"kind": "promise.settle",
  "data": {"id": "t/w:due", "state": "resolved", "value": {}}}}');

select is((select fast from runs where name = 'new step'), (select general from runs where name = 'new step'),
          'a new step: the same answer as the general path');
select is((select fast_row from runs where name = 'new step'), (select general_row from runs where name = 'new step'),
          'and the same row written');
select is((select fast from runs where name = 'existing step'), (select general from runs where name = 'existing step'),
          'an existing step: the same answer (the existing promise, unchanged)');
select is((select fast from runs where name = 'settle'), (select general from runs where name = 'settle'),
          'settling a step nobody waits on: the same answer');
select is((select fast_row from runs where name = 'settle'), (select general_row from runs where name = 'settle'),
          'and the same row written');
select ok((select fast is null and general_row is not null from runs where name = 'target'),
          'a step with a target (a task to make) is left to the general path');
select ok((select fast is null and general_row ->> 'state' = 'resolved' from runs where name = 'listener'),
          'so is a settlement with a listener to notify');
select ok((select fast is null and general -> 'status' = '409' from runs where name = 'stale'),
          'so is a failed fence, which the general path answers 409');
select ok((select fast is null and general_row ->> 'state' = 'rejected_timedout' from runs where name = 'past deadline'),
          'so is a step past its deadline, which the general path converges');
select ok((select fast_row is null from runs where name = 'stale'), 'a fallback writes nothing');
select ok((select fast_row ->> 'state' = 'pending' from runs where name = 'listener'), 'not even a settlement it declines');

select * from finish();
rollback;
