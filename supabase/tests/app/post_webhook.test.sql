-- The trigger path's SQL half: inserting an import job or image request posts the Database Webhook body
-- (type, table, schema, record, old_record) to its Edge Function with the bearer secret, both from Vault
-- (app.post_to_function through pg_net); without Vault the row is still inserted and nothing is posted.
-- app.trigger_ingest posts the nightly ingest the same way, and refuses without Vault. A row too large for
-- the function to read (it answers 413 without learning the row's id) is refused in place, not posted.
begin;
select plan(13);

set local client_min_messages = error;
insert into public.import_jobs (id, source_url) values ('00000000-0000-0000-0000-00000000000a', 'https://example.com/a.csv');
reset client_min_messages;
select ok(exists (select from public.import_jobs where id = '00000000-0000-0000-0000-00000000000a'),
          'without Vault the row is inserted all the same');
select is_empty($$select from net.http_request_queue where url like '%/import-webhook'$$, 'and nothing is posted');
select throws_like($$select app.trigger_ingest()$$, '%set Vault secrets functions_url and webhook_secret first%',
                   'trigger_ingest refuses without Vault');

do $$
begin
  perform vault.create_secret('http://functions.test/functions/v1', 'functions_url');
  perform vault.create_secret('s3cret', 'webhook_secret');
end
$$;
insert into public.image_requests (id, prompt) values ('00000000-0000-0000-0000-00000000000b', 'a cat');
select is((select url from net.http_request_queue where url like 'http://functions.test/%'),
          'http://functions.test/functions/v1/images-webhook', 'an insert posts to its table''s function');
select is((select convert_from(body, 'UTF8')::jsonb - 'record' from net.http_request_queue where url like 'http://functions.test/%'),
          '{"type": "INSERT", "table": "image_requests", "schema": "public", "old_record": null}'::jsonb,
          'the Database Webhook body');
select is((select convert_from(body, 'UTF8')::jsonb #>> '{record,prompt}' from net.http_request_queue where url like 'http://functions.test/%'),
          'a cat', 'with the inserted row as the record');
select is((select headers from net.http_request_queue where url like 'http://functions.test/%'),
          '{"Content-Type": "application/json", "Authorization": "Bearer s3cret"}'::jsonb, 'and the bearer secret');

insert into public.image_requests (id, prompt) values ('00000000-0000-0000-0000-00000000000c', repeat('x', 1100000));
select is((select status from public.image_requests where id = '00000000-0000-0000-0000-00000000000c'), 'failed',
          'an image request too large for its webhook is refused');
select matches((select error from public.image_requests where id = '00000000-0000-0000-0000-00000000000c'),
               '^the row is \d+ bytes as JSON, more than the 1048576 bytes its Edge Function images-webhook reads, so it cannot start; prompt alone is 1100002 bytes: shorten it and insert a new row$',
               'saying which field to shorten');
insert into public.import_jobs (id, source_url) values ('00000000-0000-0000-0000-00000000000d', 'https://example.com/' || repeat('a', 1100000));
select matches((select status || ': ' || error from public.import_jobs where id = '00000000-0000-0000-0000-00000000000d'),
               '^failed: the row is \d+ bytes as JSON, .* import-webhook reads, so it cannot start; source_url alone is 1100022 bytes',
               'an import job too large for its webhook is refused too');
select is((select count(*)::int from net.http_request_queue where url like 'http://functions.test/%'), 1,
          'and neither is posted');

select ok(app.trigger_ingest(force := true, trigger_name := 'manual') is not null, 'trigger_ingest posts with Vault');
select is((select convert_from(body, 'UTF8')::jsonb || jsonb_build_object('timeout', timeout_milliseconds)
             from net.http_request_queue where url = 'http://functions.test/functions/v1/ingest'),
          '{"force": true, "trigger": "manual", "timeout": 10000}'::jsonb, 'the ingest request says forced, by whom, with 10 s to answer');

select * from finish();
rollback;
