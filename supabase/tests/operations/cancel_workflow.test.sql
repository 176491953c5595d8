-- public.cancel_workflow(id): settles the newest attempt of a workflow and every pending descendant
-- rejected_canceled (settled steps keep their outcome), returns how many it canceled (0 when it had
-- finished), and once it canceled the root calls the workload's hook, which closes the row people watch
-- (an import job turns failed, its running batch failed, finished batches stay done; an image request
-- counts its styles; an ingest run turns failed). An unknown id raises no_data_found.
begin;
select plan(18);

set local client_min_messages = error;
insert into public.import_jobs (id, source_url, status, started_at, batches_total, batches_done) values
  ('00000000-0000-0000-0000-00000000000a', 'https://example.com/a.csv', 'importing', now(), 3, 1),
  ('00000000-0000-0000-0000-00000000000b', 'https://example.com/b.csv', 'failed', now(), 1, 0);
insert into public.import_batches (job_id, batch_index, status, rows) values
  ('00000000-0000-0000-0000-00000000000a', 0, 'done', 10),
  ('00000000-0000-0000-0000-00000000000a', 1, 'running', 10),
  ('00000000-0000-0000-0000-00000000000a', 2, 'pending', 10);
insert into public.image_requests (id, prompt, styles, status, started_at) values
  ('00000000-0000-0000-0000-00000000000c', 'a cat', '{a,b,c}', 'running', now());
insert into public.ingest_runs (id, status, started_at) values ('run-1', 'crawling', now());
insert into public.generated_images (request_id, style, status) values
  ('00000000-0000-0000-0000-00000000000c', 'a', 'succeeded'),
  ('00000000-0000-0000-0000-00000000000c', 'b', 'running'),
  ('00000000-0000-0000-0000-00000000000c', 'c', 'pending');
reset client_min_messages;
do $$
declare
  id text;
begin
  perform app.rpc_call('promise.create', '{"id": "import/00000000-0000-0000-0000-00000000000a", "timeoutAt": 9999999999999,
    "tags": {"resonate:target": "poll://any@workers"}}');
  foreach id in array array['import/00000000-0000-0000-0000-00000000000a:a', 'import/00000000-0000-0000-0000-00000000000a:b',
                            'import/00000000-0000-0000-0000-00000000000a:a:c', 'images/00000000-0000-0000-0000-00000000000c',
                            'import/00000000-0000-0000-0000-00000000000b/retry-1',
                            'import/00000000-0000-0000-0000-00000000000b/retry-1:s', 'ingest/run-1'] loop
    perform app.rpc_call('promise.create', jsonb_build_object('id', id, 'timeoutAt', 9999999999999));
  end loop;
  perform app.rpc_call('promise.settle', '{"id": "import/00000000-0000-0000-0000-00000000000a:b", "state": "resolved"}');
end
$$;
insert into resonate.promises (id, state, timeout_at, created_at, settled_at) values
  ('import/00000000-0000-0000-0000-00000000000b', 'rejected', 9999999999999, 1, 2);

select is(public.cancel_workflow('import/00000000-0000-0000-0000-00000000000a'), 3,
          'the root and its two pending descendants are canceled');
select is((select array_agg(substr(id, 44) || '=' || state order by id) from resonate.promises
            where id like 'import/00000000-0000-0000-0000-00000000000a%'),
          array['=rejected_canceled', ':a=rejected_canceled', ':a:c=rejected_canceled', ':b=resolved'],
          'a settled step keeps its outcome');
select is((select state from resonate.tasks where id = 'import/00000000-0000-0000-0000-00000000000a'), 'fulfilled',
          'the root''s task is fulfilled: a worker still running it is fenced off');
select is((select status from public.import_jobs where id = '00000000-0000-0000-0000-00000000000a'), 'failed',
          'the import hook turns the job failed');
select matches((select error from public.import_jobs where id = '00000000-0000-0000-0000-00000000000a'),
               '^canceled with cancel_workflow', 'saying it was canceled');
select is((select array_agg(status order by batch_index) from public.import_batches where job_id = '00000000-0000-0000-0000-00000000000a'),
          array['done', 'failed', 'pending'], 'the running batch is failed, the finished one stays done');
select is((select error from public.import_batches where job_id = '00000000-0000-0000-0000-00000000000a' and batch_index = 1),
          'canceled', 'with the error canceled');

select is(public.cancel_workflow('import/00000000-0000-0000-0000-00000000000a'), 0, 'canceling it again cancels nothing');

select is(public.cancel_workflow('import/00000000-0000-0000-0000-00000000000b'), 2, 'a retried workflow: its newest attempt is canceled');
select is((select state from resonate.promises where id = 'import/00000000-0000-0000-0000-00000000000b'), 'rejected',
          'the earlier attempt keeps its outcome');
select is((select state from resonate.promises where id = 'import/00000000-0000-0000-0000-00000000000b/retry-1:s'),
          'rejected_canceled', 'the retry''s step is canceled');

select is(public.cancel_workflow('images/00000000-0000-0000-0000-00000000000c'), 1, 'an image request''s workflow is canceled');
select is((select status || ' ' || images_succeeded || '/' || images_failed from public.image_requests
            where id = '00000000-0000-0000-0000-00000000000c'), 'partially_succeeded 1/2',
          'the images hook counts the styles: one generated, the running and pending ones failed');
select is((select array_agg(status order by style) from public.generated_images where request_id = '00000000-0000-0000-0000-00000000000c'),
          array['succeeded', 'failed', 'failed'], 'the generated style stays succeeded');

select is(public.cancel_workflow('ingest/run-1'), 1, 'an ingest run''s workflow is canceled');
select is((select status || ': ' || error from public.ingest_runs where id = 'run-1'),
          'failed: canceled with cancel_workflow; retry_workflow runs it again', 'the ingest hook fails the run, saying why');

select throws_ok($$select public.cancel_workflow('import/00000000-0000-0000-0000-0000000000ff')$$, 'P0002', null,
                 'an unknown workflow raises no_data_found');
select throws_ok($$select public.cancel_workflow('import/00000000-0000-0000-0000-00000000000a:a')$$, 'P0002', null,
                 'a step is not a workflow');

select * from finish();
rollback;
