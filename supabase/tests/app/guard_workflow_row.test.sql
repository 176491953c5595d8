-- app.guard_workflow_row, the BEFORE UPDATE trigger of import_jobs and image_requests: what a row asks
-- for (its spec columns) never changes once inserted, for any role; the columns its workflow writes
-- (status, counts, errors, timings) may be written by the tables' owner (the worker, the cancel hooks)
-- but not by the API roles; other columns stay writable.
begin;
select plan(10);

-- Vault is not configured here, so the insert trigger's webhook warns that it was not sent.
set local client_min_messages = error;
insert into public.import_jobs (id, source_url) values ('00000000-0000-0000-0000-000000000001', 'https://example.com/a.csv');
insert into public.image_requests (id, prompt) values ('00000000-0000-0000-0000-000000000002', 'a cat');

select throws_ok($$update public.import_jobs set batch_size = 5 where id = '00000000-0000-0000-0000-000000000001'$$,
                 '55000', null, 'the owner cannot change an import job''s spec');
select throws_like($$update public.import_jobs set source_url = 'x', target = 'y' where id = '00000000-0000-0000-0000-000000000001'$$,
                   '%this update changes source_url, target%', 'the refusal names the columns the update changes');
select throws_ok($$update public.image_requests set prompt = 'a dog' where id = '00000000-0000-0000-0000-000000000002'$$,
                 '55000', null, 'nor an image request''s');
select lives_ok($$update public.import_jobs set batch_size = batch_size, status = 'importing', batches_done = 2
                   where id = '00000000-0000-0000-0000-000000000001'$$,
                'the owner writes status and counts (a spec column set to its own value is no change)');
select is((select status || ' ' || batches_done from public.import_jobs where id = '00000000-0000-0000-0000-000000000001'),
          'importing 2', 'and the write lands');

set local role service_role;
select throws_ok($$update public.import_jobs set status = 'succeeded' where id = '00000000-0000-0000-0000-000000000001'$$,
                 '42501', null, 'service_role cannot write an import job''s status');
select throws_like($$update public.image_requests set images_succeeded = 3 where id = '00000000-0000-0000-0000-000000000002'$$,
                   '%cancel_workflow(''images/00000000-0000-0000-0000-000000000002'')%',
                   'nor an image request''s counts, and is told how to stop or rerun it instead');
select throws_ok($$update public.image_requests set styles = '{cartoon}' where id = '00000000-0000-0000-0000-000000000002'$$,
                 '55000', null, 'nor any spec column');
select lives_ok($$update public.import_jobs set updated_at = now() - interval '1 hour'
                   where id = '00000000-0000-0000-0000-000000000001'$$,
                'a column neither spec nor workflow-owned stays writable');
reset role;
select is((select status from public.import_jobs where id = '00000000-0000-0000-0000-000000000001'), 'importing',
          'the refused updates changed nothing');

select * from finish();
rollback;
