-- Schedules (docs/resonate-protocol.md §5): schedule.create is idempotent by id and needs a target for
-- the promises it will create; get and delete answer 404 for an unknown id; the timer pass creates each
-- slot's promise (with a task, as any targeted promise) and advances nextRunAt from the slot, so missed
-- slots are caught up one per pass.
begin;
select plan(15);

create function pg_temp.ms(t text) returns bigint language sql immutable as
  $$ select (extract(epoch from (t || '+00')::timestamptz) * 1000)::bigint $$;

select is(app.rpc_call('schedule.create', '{"id": "s1", "cron": "*/5 * * * *", "promiseId": "sched/{{.id}}/{{.timestamp}}",
            "promiseTimeout": 600000, "promiseTags": {}}') -> 'head' ->> 'status', '400',
          'a schedule whose promises have no target is refused');
select is(app.rpc_call('schedule.create', '{"id": "s1", "cron": "not cron", "promiseId": "p",
            "promiseTimeout": 600000, "promiseTags": {"resonate:target": "poll://any@g"}}') -> 'head' ->> 'status', '400',
          'a bad cron expression: 400');
select is(app.rpc_call('schedule.create', '{"id": "s1", "cron": "*/5 * * * *", "promiseId": "sched/{{.id}}/{{.timestamp}}",
            "promiseTimeout": 600000, "promiseTags": {"resonate:target": "poll://any@g"}}') -> 'head' ->> 'status', '200',
          'a schedule is created');
select is((select next_run_at from resonate.schedules where id = 's1'),
          (select resonate._cron_next('*/5 * * * *', created_at) from resonate.schedules where id = 's1'),
          'its first run is the cron''s next slot after its creation');
select is(app.rpc_call('schedule.create', '{"id": "s1", "cron": "0 0 * * *", "promiseId": "other",
            "promiseTimeout": 1, "promiseTags": {"resonate:target": "poll://any@g"}}') -> 'data' -> 'schedule' ->> 'cron',
          '*/5 * * * *', 'creating it again answers the existing schedule, unchanged');
select is(app.rpc_call('schedule.get', '{"id": "s1"}') -> 'data' -> 'schedule' ->> 'promiseId', 'sched/{{.id}}/{{.timestamp}}',
          'get answers it');
select is(app.rpc_call('schedule.get', '{"id": "s2"}') -> 'head' ->> 'status', '404', 'get of an unknown id: 404');

-- Two slots missed (00:00 and 00:05): a pass at 00:07 fires the first, the next pass the second.
update resonate.schedules set next_run_at = pg_temp.ms('2026-01-01 00:00:00') where id = 's1';
select is(resonate.process_timeouts(pg_temp.ms('2026-01-01 00:07:00')), 1, 'a pass fires one slot');
select is((select array_agg(id)::text[] from resonate.promises where id like 'sched/%'),
          array['sched/s1/' || pg_temp.ms('2026-01-01 00:00:00')], 'its promise is named after the schedule and the slot');
select is((select (tags ->> 'resonate:schedule') || ' ' || timeout_at from resonate.promises where id like 'sched/%'),
          's1 ' || (pg_temp.ms('2026-01-01 00:00:00') + 600000), 'tagged with the schedule, due promiseTimeout after the slot');
select ok(exists (select from resonate.outbox o join resonate.tasks t on t.id = o.task_id
                   where t.id like 'sched/%' and o.address = 'poll://any@g'), 'with a task sent to the target');
select is((select last_run_at || ' ' || next_run_at from resonate.schedules where id = 's1'),
          pg_temp.ms('2026-01-01 00:00:00') || ' ' || pg_temp.ms('2026-01-01 00:05:00'),
          'the next run follows the slot, not the time of the pass');
select is(resonate.process_timeouts(pg_temp.ms('2026-01-01 00:07:00')), 1, 'so the next pass fires the missed 00:05 slot');

select is(app.rpc_call('schedule.delete', '{"id": "s1"}') -> 'head' ->> 'status', '200', 'delete removes it');
select is(app.rpc_call('schedule.delete', '{"id": "s1"}') -> 'head' ->> 'status', '404', 'and a second delete is a 404');

select * from finish();
rollback;
