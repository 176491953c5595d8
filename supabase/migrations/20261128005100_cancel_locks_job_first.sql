-- Canceling an import locks the job row before its batches, the order every other writer uses: a
-- running batch takes the job row first (so a DELETE of the job, which locks the row and then cascades
-- into import_batches, queues behind it). The cancel used to update the batches first and then the
-- job, and a batch running at that moment deadlocked with it: Postgres aborted the batch, which then
-- ran a second attempt. Now the cancel waits for that batch to commit; the batch then counts as done.
create or replace function app.workflow_canceled_import(row_id text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform from public.import_jobs where id::text = row_id for no key update;
  update public.import_batches
     set status = 'failed', error = 'canceled' || coalesce(' while ' || error, '')
   where job_id::text = row_id and status in ('running', 'retrying');
  update public.import_jobs
     set status = 'failed', finished_at = now(), updated_at = now(),
         -- No count here: a batch already running still commits after this (batches_done says it).
         error = 'canceled with cancel_workflow; the finished batches (batches_done) stay imported, and '
              || 'retry_workflow resumes at the next one'
   where id::text = row_id and status in ('queued', 'staging', 'importing');
end
$$;
