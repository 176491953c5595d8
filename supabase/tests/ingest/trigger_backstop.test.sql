-- Ingest triggers lost with pg_net's unlogged queue are posted again: app.trigger_ingest records each
-- trigger, and app.repost_stuck_webhooks re-posts those older than its interval that no run shows
-- arrived (a plain one: no run for its UTC date; a forced one: no forced run recorded since), from the
-- last day, at most 5 times each and each time only once the interval has passed since the last post,
-- and forgets them after 7 days.
begin;
select plan(15);

do $$
begin
  perform vault.create_secret('http://functions.test/functions/v1', 'functions_url');
  perform vault.create_secret('s3cret', 'webhook_secret');
end
$$;

select isnt(app.trigger_ingest(false, 'cron'), null, 'a trigger is posted');
select is((select count(*)::int from app.ingest_triggers where trigger_name = 'cron' and not force), 1,
          'and recorded');
select is(app.repost_stuck_webhooks(interval '3 minutes'), 0, 'a trigger younger than the interval is not re-posted');

update app.ingest_triggers set requested_at = now() - interval '10 minutes', posted_at = now() - interval '10 minutes';
select is(app.repost_stuck_webhooks(interval '3 minutes'), 1, 'an older one that no run shows arrived is re-posted');
select is((select convert_from(body, 'UTF8')::jsonb from net.http_request_queue order by id desc limit 1),
          '{"force": false, "trigger": "cron"}'::jsonb, 'with its own body');
select is((select url from net.http_request_queue order by id desc limit 1), 'http://functions.test/functions/v1/ingest',
          'to the ingest function');
select is(app.repost_stuck_webhooks(interval '3 minutes'), 0, 'a re-post waits the interval again before the next');
update app.ingest_triggers set posted_at = now() - interval '10 minutes';

insert into public.ingest_runs (id, trigger) values (to_char((now() - interval '10 minutes') at time zone 'UTC', 'YYYY-MM-DD'), 'cron');
select is(app.repost_stuck_webhooks(interval '3 minutes'), 0, 'once the day''s run exists, it is not re-posted again');

select isnt(app.trigger_ingest(true, 'by-hand'), null, 'a forced trigger is posted');
update app.ingest_triggers set requested_at = now() - interval '10 minutes', posted_at = now() - interval '10 minutes' where force;
select is(app.repost_stuck_webhooks(interval '3 minutes'), 1, 'a forced trigger is not satisfied by the day''s plain run');
update app.ingest_triggers set posted_at = now() - interval '10 minutes' where force;
insert into public.ingest_runs (id, trigger, forced, created_at)
  values ('2026-01-01-force-000000000', 'by-hand', true, now() - interval '20 minutes');
select is(app.repost_stuck_webhooks(interval '3 minutes'), 1,
          'nor by a forced run recorded before it was requested');
update public.ingest_runs set created_at = now() where forced;
update app.ingest_triggers set posted_at = now() - interval '10 minutes' where force;
select is(app.repost_stuck_webhooks(interval '3 minutes'), 0, 'a forced run recorded since it was requested satisfies it');

delete from public.ingest_runs;
update app.ingest_triggers set reposts = 5, posted_at = now() - interval '10 minutes';
select is(app.repost_stuck_webhooks(interval '3 minutes'), 0, 'a trigger re-posted 5 times is left alone');

update app.ingest_triggers set requested_at = now() - interval '8 days';
select lives_ok($$select app.repost_stuck_webhooks(interval '3 minutes')$$, 'a pass over old triggers');
select is_empty($$select from app.ingest_triggers$$, 'triggers older than 7 days are forgotten');

select * from finish();
rollback;
