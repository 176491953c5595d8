-- app.import_count_attempt(job, batch, async): a batch's attempt is counted (running, started once)
-- under the job's turn, an advisory lock on 'import/<job>' that cancel_workflow takes too; nothing is
-- counted, and null returned, for a batch that is done or gone or a job that failed (a cancel). With
-- async the transaction commits without waiting for the WAL flush.
begin;
select plan(10);

set local client_min_messages = error;
insert into public.import_jobs (id, source_url, status) values
  ('00000000-0000-0000-0000-00000000000a', 'x', 'importing'), ('00000000-0000-0000-0000-00000000000b', 'x', 'failed');
insert into public.import_batches (job_id, batch_index, status, rows) values
  ('00000000-0000-0000-0000-00000000000a', 0, 'pending', 10), ('00000000-0000-0000-0000-00000000000a', 1, 'done', 10),
  ('00000000-0000-0000-0000-00000000000b', 0, 'retrying', 10);
reset client_min_messages;

select is(app.import_count_attempt('00000000-0000-0000-0000-00000000000a', 0, false), 1, 'a batch''s first attempt is 1');
select is((select status || ' ' || (started_at is not null) from public.import_batches
            where job_id = '00000000-0000-0000-0000-00000000000a' and batch_index = 0), 'running true', 'and it is running');
select ok(exists (select from pg_locks where locktype = 'advisory' and pid = pg_backend_pid() and granted
                    and ((classid::bigint << 32) | objid::bigint) = hashtextextended('import/00000000-0000-0000-0000-00000000000a', 0)),
          'under the job''s turn, the advisory lock cancel_workflow takes');
update public.import_batches set started_at = '2026-01-01' where job_id = '00000000-0000-0000-0000-00000000000a' and batch_index = 0;
select is(app.import_count_attempt('00000000-0000-0000-0000-00000000000a', 0, false), 2, 'the next attempt is 2');
select is((select started_at from public.import_batches where job_id = '00000000-0000-0000-0000-00000000000a' and batch_index = 0),
          '2026-01-01'::timestamptz, 'started_at keeps the first attempt''s time');

select is(app.import_count_attempt('00000000-0000-0000-0000-00000000000a', 1, false), null, 'a done batch: null');
select is((select attempts from public.import_batches where job_id = '00000000-0000-0000-0000-00000000000a' and batch_index = 1),
          0, 'and no attempt counted');
select is(app.import_count_attempt('00000000-0000-0000-0000-00000000000b', 0, false), null, 'a failed (canceled) job: null');
select is((select attempts || ' ' || status from public.import_batches where job_id = '00000000-0000-0000-0000-00000000000b'),
          '0 retrying', 'and its batch is untouched');
select is(app.import_count_attempt('00000000-0000-0000-0000-00000000000a', 9, true) is null
            and current_setting('synchronous_commit') = 'off', true,
          'a missing batch: null; and async turns synchronous_commit off for the transaction');

select * from finish();
rollback;
