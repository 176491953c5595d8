-- The trigger path's SQL half: inserting an import job or image request posts the Database Webhook body
-- (type, table, schema, record, old_record) to its Edge Function with the bearer secret, both from Vault
-- (app.post_to_function through pg_net); without Vault the row is still inserted and nothing is posted.
-- app.trigger_ingest posts the nightly ingest the same way, and refuses without Vault.
begin;
select plan(9);

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

select ok(app.trigger_ingest(force := true, trigger_name := 'manual') is not null, 'trigger_ingest posts with Vault');
select is((select convert_from(body, 'UTF8')::jsonb || jsonb_build_object('timeout', timeout_milliseconds)
             from net.http_request_queue where url = 'http://functions.test/functions/v1/ingest'),
          '{"force": true, "trigger": "manual", "timeout": 10000}'::jsonb, 'the ingest request says forced, by whom, with 10 s to answer');

select * from finish();
rollback;
