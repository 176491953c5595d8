-- app.repost_stuck_webhooks (the backstop for webhooks pg_net lost): re-posts, with the secret from
-- Vault, the insert webhook of each import job and image request still `queued` after the interval
-- whose workflow never started, and counts them; nothing is posted, and 0 returned, while Vault is not
-- configured. Rows that are recent, past `queued`, or have their workflow are left alone.
begin;
select plan(8);

set local client_min_messages = error;
insert into public.import_jobs (id, source_url, status, created_at) values
  ('00000000-0000-0000-0000-000000000001', 'https://example.com/stuck.csv', 'queued', now() - interval '10 minutes'),
  ('00000000-0000-0000-0000-000000000002', 'https://example.com/started.csv', 'queued', now() - interval '10 minutes'),
  ('00000000-0000-0000-0000-000000000003', 'https://example.com/recent.csv', 'queued', now() - interval '1 minute'),
  ('00000000-0000-0000-0000-000000000004', 'https://example.com/failed.csv', 'failed', now() - interval '10 minutes');
insert into public.image_requests (id, prompt, created_at) values
  ('00000000-0000-0000-0000-000000000005', 'stuck', now() - interval '10 minutes');
insert into resonate.promises (id, state, timeout_at, created_at) values
  ('import/00000000-0000-0000-0000-000000000002', 'pending', 9999999999999, 1);
reset client_min_messages;

select is(app.repost_stuck_webhooks(interval '3 minutes'), 0, 'without Vault secrets nothing is re-posted');
select is_empty($$select from net.http_request_queue$$, 'and nothing is queued');

do $$
begin
  perform vault.create_secret('http://functions.test/functions/v1', 'functions_url');
  perform vault.create_secret('s3cret', 'webhook_secret');
end
$$;
select is(app.repost_stuck_webhooks(interval '3 minutes'), 2, 'with them, the two stuck rows are re-posted');
select is((select array_agg(url order by url) from net.http_request_queue where url like 'http://functions.test/%'),
          array['http://functions.test/functions/v1/images-webhook', 'http://functions.test/functions/v1/import-webhook'],
          'each to its table''s function');
select is((select array_agg(convert_from(body, 'UTF8')::jsonb #>> '{record,id}' order by url) from net.http_request_queue where url like 'http://functions.test/%'),
          array['00000000-0000-0000-0000-000000000005', '00000000-0000-0000-0000-000000000001'],
          'with the stuck row as the webhook''s record');
select is((select array_agg(distinct convert_from(body, 'UTF8')::jsonb ->> 'type') from net.http_request_queue where url like 'http://functions.test/%'), array['INSERT'],
          'as an INSERT webhook');
select is((select array_agg(distinct headers ->> 'Authorization') from net.http_request_queue where url like 'http://functions.test/%'), array['Bearer s3cret'],
          'carrying the bearer secret');
select is(app.repost_stuck_webhooks(interval '1 hour'), 0, 'a longer interval finds none of them stuck');

select * from finish();
rollback;
