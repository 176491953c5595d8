-- resonate.resonate_step (our adapter's entry point for a lone sequential step): behind the task's
-- fence, the step's promise is written once, settled, and the time it was written is answered; where
-- the fast path does not apply it answers null and writes nothing, for the adapter to send the step's
-- two requests in full.
begin;
select plan(11);

do $$
begin
  perform app.rpc_call('promise.create', '{"id": "s/w", "timeoutAt": 9999999999999, "tags": {"resonate:target": "poll://any@g"}}');
  perform app.rpc_call('task.acquire', '{"id": "s/w", "version": 0, "pid": "w1", "ttl": 60000}');
end
$$;

create temporary table written on commit drop as
  select resonate.resonate_step('s/w', 1, 's/w:0', 9999999999999, '{"data": "in", "gone": null}',
                                '{"resonate:scope": "local", "resonate:branch": "s/w"}', 'resolved', '{"data": "out"}') as at;

select isnt((select at from written), null, 'a step is written and answers the time it was written');
select is((select row(state, created_at, settled_at, param, value)::text from resonate.promises where id = 's/w:0'),
          (select row('resolved', at, at, '{"data": "in"}'::jsonb, '{"data": "out"}'::jsonb)::text from written),
          'stored once, settled, created and settled at that time, without JSON nulls');

select is(resonate.resonate_step('s/w', 1, 's/w:0', 9999999999999, '{}', '{}', 'rejected', '{}'), null,
          'a step that exists answers null');
select is((select state from resonate.promises where id = 's/w:0'), 'resolved', 'and keeps its first result');

select is(resonate.resonate_step('s/w', 2, 's/w:1', 9999999999999, '{}', '{}', 'resolved', '{}'), null,
          'another version than the task''s answers null (the fence refuses)');
select is(resonate.resonate_step('s/w', 1, 's/w:2', 9999999999999, '{}', '{}', 'rejected_timedout', '{}'), null,
          'a result state the timer owns answers null');
select is(resonate.resonate_step('s/w', 1, 's/w:3', 9999999999999, '{}', '{"resonate:target": "poll://any@g"}', 'resolved', '{}'), null,
          'a step with a target (an rpc) answers null');
select is(resonate.resonate_step('s/w', 1, 's/w:4', 1000, '{}', '{}', 'resolved', '{}'), null,
          'a step past its deadline answers null');
select is(resonate.resonate_step('s/w', 1, 's/w', 9999999999999, '{}', '{}', 'resolved', '{}'), null,
          'the task''s own promise answers null');
select is((select count(*)::int from resonate.promises where id in ('s/w:1', 's/w:2', 's/w:3', 's/w:4')), 0,
          'and none of them is written');

do $$ begin perform app.rpc_call('task.release', '{"id": "s/w", "version": 1}'); end $$;
select is(resonate.resonate_step('s/w', 1, 's/w:5', 9999999999999, '{}', '{}', 'resolved', '{}'), null,
          'a task no longer acquired answers null');

select * from finish();
rollback;
