-- public.ingest_runs carries the guards of the other workload tables (app.guard_workflow_row and
-- app.refuse_deleting_running_row): a run whose workflow `ingest/<id>` (or a retry of it) is pending cannot
-- be deleted, its id and what triggered it never change, and the API roles cannot write what the
-- workflow writes. A run that is deleted takes its staged pages with it. Deleted mid-crawl, the run's later writes failed on ingest_run_sources' foreign key until
-- the workflow was rejected, and its staged pages were left in ingest_staging for good
-- (test/ingest/running-run-guard.test.ts).
begin;
select plan(17);

insert into public.ingest_runs (id, status, trigger, started_at) values
  ('2026-12-01', 'crawling', 'cron', now()),
  ('2026-12-02', 'failed', 'cron', now()),
  ('2026-12-03', 'succeeded', 'manual', now());
insert into resonate.promises (id, state, timeout_at, created_at, settled_at) values
  ('ingest/2026-12-01', 'pending', 9999999999999, 1, null),
  ('ingest/2026-12-02', 'rejected', 9999999999999, 1, 2),
  ('ingest/2026-12-02/retry-1', 'pending', 9999999999999, 3, null),
  ('ingest/2026-12-03', 'resolved', 9999999999999, 1, 2);
insert into public.ingest_sources (id, kind, name) values (1, 'markdown_dir', 'docs');
insert into public.ingest_run_sources (run_id, source_id, status) values ('2026-12-01', 1, 'running');
insert into public.ingest_staging (staging_id, run_id, source_id, source_type, source_path, content, content_hash)
  select r || '/1/a.md', r, 1, 'markdown_dir', 'a.md', 'a', 'h' from unnest(array['2026-12-01', '2026-12-03']) r;

select throws_ok($$delete from public.ingest_runs where id = '2026-12-01'$$,
                 '55006', null, 'a run whose workflow is pending cannot be deleted');
select throws_like($$delete from public.ingest_runs where id = '2026-12-01'$$,
                   '%cancel it first with select public.cancel_workflow(''ingest/2026-12-01'')%',
                   'and the refusal says how to cancel it');
select throws_like($$delete from public.ingest_runs where id = '2026-12-02'$$,
                   '%workflow ingest/2026-12-02/retry-1 is pending%',
                   'a pending retry keeps the run too, and is named');
select is((select count(*)::int from public.ingest_run_sources where run_id = '2026-12-01'), 1,
          'the refused delete took none of the run''s rows with it');
select lives_ok($$delete from public.ingest_runs where id = '2026-12-03'$$, 'a finished run deletes');
select is_empty($$select from public.ingest_staging where run_id = '2026-12-03'$$,
                'its staged pages go with it (a failed run keeps them for a retry, which it no longer has)');
select isnt_empty($$select from public.ingest_staging where run_id = '2026-12-01'$$,
                  'another run''s stay, and so do those of a run whose delete was refused');

select throws_ok($$update public.ingest_runs set id = '2026-12-09' where id = '2026-12-02'$$,
                 '55000', null, 'the owner cannot renumber a run (its id names its workflow)');
select throws_like($$update public.ingest_runs set forced = true, trigger = 'by-hand' where id = '2026-12-01'$$,
                   '%this update changes forced, trigger%',
                   'nor change what triggered it, told which columns');
select lives_ok($$insert into public.ingest_runs (id, status, forced, trigger, started_at)
                  values ('2026-12-01', 'crawling', true, 'other', now())
                  on conflict (id) do update set status = 'crawling', started_at = coalesce(ingest_runs.started_at, now())$$,
                'the workflow''s first step (functions/ingest/db.ts, beginRun) still upserts the row');
select lives_ok($$update public.ingest_runs set status = 'indexing', sources_failed = 1, crawled_at = now()
                   where id = '2026-12-01'$$,
                'the owner (the worker) writes status, counts and timings');

-- A run that never had a workflow (a row written by hand) deletes as usual.
insert into public.ingest_runs (id) values ('by-hand');
select lives_ok($$delete from public.ingest_runs where id = 'by-hand'$$, 'a run without a workflow deletes');

set local role service_role;
select throws_ok($$delete from public.ingest_runs where id = '2026-12-01'$$,
                 '55006', null, 'service_role cannot delete a running run either');
select throws_like($$update public.ingest_runs set status = 'failed' where id = '2026-12-01'$$,
                   '%select public.cancel_workflow(''ingest/2026-12-01'')%',
                   'nor write its status, and is told to cancel it instead');
select throws_ok($$update public.ingest_runs set chunks_done = 5 where id = '2026-12-01'$$,
                 '42501', null, 'nor its progress');
select throws_ok($$update public.ingest_runs set id = 'x' where id = '2026-12-01'$$,
                 '55000', null, 'nor its id');
reset role;

select is((select status || ' ' || trigger || ' ' || forced from public.ingest_runs where id = '2026-12-01'),
          'indexing cron false', 'the refused updates changed nothing');

select * from finish();
rollback;
