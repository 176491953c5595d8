-- app.import_lock_batch(job, batch): takes the job's turn (the advisory lock cancel_workflow takes),
-- then locks the job row and the batch row, and answers their statuses; null for a job or batch that
-- is gone.
begin;
select plan(5);

set local client_min_messages = error;
insert into public.import_jobs (id, source_url, status) values ('00000000-0000-0000-0000-00000000000a', 'x', 'importing');
insert into public.import_batches (job_id, batch_index, status, rows) values ('00000000-0000-0000-0000-00000000000a', 0, 'running', 10);
reset client_min_messages;

select is((select job_status || ' ' || batch_status from app.import_lock_batch('00000000-0000-0000-0000-00000000000a', 0)),
          'importing running', 'the statuses of the job and the batch');
select ok(exists (select from pg_locks where locktype = 'advisory' and pid = pg_backend_pid() and granted
                    and ((classid::bigint << 32) | objid::bigint) = hashtextextended('import/00000000-0000-0000-0000-00000000000a', 0)),
          'taken under the job''s turn');
select ok(exists (select from pg_locks l where l.locktype = 'transactionid' and l.pid = pg_backend_pid())
          and (select xmax::text = txid_current()::text from public.import_jobs where id = '00000000-0000-0000-0000-00000000000a')
          and (select xmax::text = txid_current()::text from public.import_batches where job_id = '00000000-0000-0000-0000-00000000000a'),
          'with the job row and the batch row locked by this transaction');
select is((select row(job_status, batch_status)::text from app.import_lock_batch('00000000-0000-0000-0000-00000000000a', 7)),
          '(importing,)', 'a batch that is gone: null batch status');
select is((select row(job_status, batch_status)::text from app.import_lock_batch('00000000-0000-0000-0000-0000000000ff', 0)),
          '(,)', 'a job that is gone: both null');

select * from finish();
rollback;
