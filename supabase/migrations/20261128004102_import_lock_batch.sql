-- A batch's attempt count and its first statement, each one round trip, and the order in which a
-- batch, a cancel and a DELETE of the job take their locks.
--
-- Both first take the job's turn: an advisory lock on 'import/<job id>', which cancel_workflow takes
-- too (20261128004103). Advisory locks are granted in the order they were asked for; row locks are
-- not: when a running batch committed, the next batch could lock the job row before the cancel that
-- had been waiting for it, and so run after the cancel. Now the cancel goes first, and the next batch,
-- reading the job after its turn, finds it failed and does not start.
--
-- Then the batch locks the job row and its batch row, in the order a DELETE of the job and the cancel
-- hook (20261128005100) take them: the job row first, so they queue instead of deadlocking.

create or replace function app.import_count_attempt(p_job uuid, p_batch integer, p_async boolean)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  n integer;
begin
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('import/' || p_job, 0));
  -- See ImportDeps.asyncCommit in functions/import/deps.ts.
  perform pg_catalog.set_config('synchronous_commit',
    case when p_async then 'off' else pg_catalog.current_setting('synchronous_commit') end, true);
  update public.import_batches b
     set attempts = b.attempts + 1, status = 'running', started_at = coalesce(b.started_at, now())
   where b.job_id = p_job and b.batch_index = p_batch and b.status <> 'done'
     and exists (select from public.import_jobs j where j.id = p_job and j.status <> 'failed')
  returning b.attempts into n;
  return n;
end
$$;

-- Null statuses: the job or the batch is gone.
create or replace function app.import_lock_batch(p_job uuid, p_batch integer)
returns table (job_status text, batch_status text)
language plpgsql
set search_path = ''
as $$
begin
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('import/' || p_job, 0));
  select j.status into job_status from public.import_jobs j where j.id = p_job for no key update;
  select b.status into batch_status from public.import_batches b
   where b.job_id = p_job and b.batch_index = p_batch
     for update;
  return next;
end
$$;

revoke all on function app.import_count_attempt(uuid, integer, boolean), app.import_lock_batch(uuid, integer)
  from public;
