-- public.workflow_runs: one line per import job, image request and ingest run, joined to its newest
-- workflow attempt: status canceled when that attempt was canceled (else the row's), the number of
-- retries, attempts from its task's version, and progress in the workload's unit (batches, images,
-- chunks) or, while an ingest run has not counted its chunks, in settled steps.
begin;
select plan(12);

set local client_min_messages = error;
insert into public.import_jobs (id, source_url, status, batches_total, batches_done) values
  ('00000000-0000-0000-0000-00000000000a', 'https://example.com/a.csv', 'importing', 5, 2),
  ('00000000-0000-0000-0000-00000000000b', 'https://example.com/b.csv', 'queued', null, 0);
insert into public.image_requests (id, prompt, styles, status, images_succeeded) values
  ('00000000-0000-0000-0000-00000000000c', 'a cat', '{a,b,c}', 'running', 1);
insert into public.ingest_runs (id, status) values ('run-1', 'crawling');
insert into public.ingest_runs (id, status, chunks_total, chunks_done) values ('run-2', 'indexing', 40, 10);
reset client_min_messages;
insert into resonate.promises (id, state, timeout_at, created_at, settled_at) values
  ('import/00000000-0000-0000-0000-00000000000a', 'rejected', 9999999999999, 1, 2),
  ('import/00000000-0000-0000-0000-00000000000a/retry-1', 'rejected', 9999999999999, 3, 4),
  ('import/00000000-0000-0000-0000-00000000000a/retry-2', 'rejected_canceled', 9999999999999, 5, 6),
  ('images/00000000-0000-0000-0000-00000000000c', 'pending', 9999999999999, 1, null),
  ('ingest/run-1', 'pending', 9999999999999, 1, null),
  ('ingest/run-1:a', 'resolved', 9999999999999, 2, 3),
  ('ingest/run-1:b', 'resolved', 9999999999999, 2, 3),
  ('ingest/run-1:c', 'pending', 9999999999999, 2, null);
insert into resonate.tasks (id, state, version) values ('images/00000000-0000-0000-0000-00000000000c', 'acquired', 3);

create temporary table runs on commit drop as select * from public.workflow_runs;

select is((select workflow_id from runs where row_id = '00000000-0000-0000-0000-00000000000a'),
          'import/00000000-0000-0000-0000-00000000000a/retry-2', 'a retried run shows its newest attempt');
select is((select status || ' ' || durable_state from runs where row_id = '00000000-0000-0000-0000-00000000000a'),
          'canceled rejected_canceled', 'canceled when that attempt was canceled, whatever the row says');
select is((select retries from runs where row_id = '00000000-0000-0000-0000-00000000000a'), 2, 'with its number of retries');
select is((select done || '/' || total || ' ' || unit from runs where row_id = '00000000-0000-0000-0000-00000000000a'),
          '2/5 batches', 'an import''s progress is in batches');

select is((select workflow_id || ' ' || status || ' ' || coalesce(durable_state, '-') || ' ' || attempts || ' ' || retries
             from runs where row_id = '00000000-0000-0000-0000-00000000000b'),
          'import/00000000-0000-0000-0000-00000000000b queued - 0 0', 'a row whose workflow has not started: its row''s status');

select is((select status || ' ' || attempts || ' ' || task_state from runs where row_id = '00000000-0000-0000-0000-00000000000c'),
          'running 3 acquired', 'attempts are the task''s version');
select is((select done || '/' || total || ' ' || unit from runs where row_id = '00000000-0000-0000-0000-00000000000c'),
          '1/3 images', 'an image request without a total counts its styles');

select is((select done || '/' || total || ' ' || unit from runs where row_id = 'run-1'), '2/3 steps',
          'an ingest run that has not counted its chunks: settled steps');
select is((select done || '/' || total || ' ' || unit from runs where row_id = 'run-2'), '10/40 chunks', 'then chunks');
select is((select kind from runs where row_id = 'run-2'), 'ingest', 'each line says its kind');
select is((select count(*)::int from runs), 5, 'one line per row');

set local role service_role;
select is((select count(*)::int from public.workflow_runs), 5, 'service_role reads it');
reset role;

select * from finish();
rollback;
