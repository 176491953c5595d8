-- resonate._cron_next (schedules' clock, UTC): the first instant strictly after a time that matches a
-- cron expression of 5 or 6 fields, with steps, ranges, names and aliases, and day-of-month OR-ed with
-- day-of-week when both are restricted (cron-parser's rule). Bad expressions are a 400 (RS400).
begin;
select plan(15);

create function pg_temp.ms(t text) returns bigint language sql immutable as
  $$ select (extract(epoch from (t || '+00')::timestamptz) * 1000)::bigint $$;
create function pg_temp.next(expr text, after text) returns text language sql as
  $$ select to_char(to_timestamp(resonate._cron_next(expr, pg_temp.ms(after)) / 1000.0) at time zone 'UTC',
                    'Dy YYYY-MM-DD HH24:MI:SS') $$;

-- 2026-01-01 is a Thursday.
select is(pg_temp.next('*/15 * * * *', '2026-01-01 00:07:00'), 'Thu 2026-01-01 00:15:00', 'a step of minutes');
select is(pg_temp.next('*/15 * * * *', '2026-01-01 00:15:00'), 'Thu 2026-01-01 00:30:00', 'strictly after the given time');
select is(pg_temp.next('*/15 * * * *', '2026-01-01 00:14:59.999'), 'Thu 2026-01-01 00:15:00',
          'a time within a second of a slot still gets that slot');
select is(pg_temp.next('0 9 * * mon-fri', '2026-01-03 10:00:00'), 'Mon 2026-01-05 09:00:00',
          'a range of weekday names skips the weekend');
select is(pg_temp.next('0 0 1 feb *', '2026-01-01 00:00:00'), 'Sun 2026-02-01 00:00:00', 'a month name');
select is(pg_temp.next('0 0 13 * *', '2026-01-01 00:00:00'), 'Tue 2026-01-13 00:00:00', 'day of month alone');
select is(pg_temp.next('0 0 13 * fri', '2026-01-01 00:00:00'), 'Fri 2026-01-02 00:00:00',
          'day of month and day of week both restricted: either matches (the Friday comes first)');
select is(pg_temp.next('0 0 13 * fri', '2026-01-10 00:00:00'), 'Tue 2026-01-13 00:00:00',
          'and the 13th when it comes before the next Friday');
select is(pg_temp.next('0 0 * * 7', '2026-01-01 00:00:00'), 'Sun 2026-01-04 00:00:00', '7 is Sunday too');
select is(pg_temp.next('30 * * * * *', '2026-01-01 00:00:10'), 'Thu 2026-01-01 00:00:30', 'six fields: seconds first');
select is(pg_temp.next('@hourly', '2026-01-01 23:59:59'), 'Fri 2026-01-02 00:00:00', 'an alias, across midnight');
select is(pg_temp.next('0 12 29 2 *', '2026-03-01 00:00:00'), 'Tue 2028-02-29 12:00:00', 'the 29th of February waits for a leap year');

select throws_ok($$select resonate._cron_next('61 * * * *', 0)$$, 'RS400', 'Invalid cron expression',
                 'a minute out of range is refused');
select throws_ok($$select resonate._cron_next('* * *', 0)$$, 'RS400', 'Invalid cron expression',
                 'three fields are refused');

select throws_ok($$select resonate._cron_next('0 0 30 2 *', 0)$$, 'RS400', 'Invalid cron expression',
                 'a date that never comes (February 30) is refused rather than searched for ever');

select * from finish();
rollback;
