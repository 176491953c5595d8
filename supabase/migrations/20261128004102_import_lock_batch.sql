-- A batch's first statement takes both of its locks in one round trip, in the order everything else
-- that locks an import job and its batches takes them: the job row, then the batch row (see the cancel
-- hook in 20261128005100 and the DELETE cascade). Returns the batch's status, or null if it is gone.
create or replace function app.import_lock_batch(p_job uuid, p_batch integer)
returns text
language plpgsql
set search_path = ''
as $$
declare
  s text;
begin
  perform from public.import_jobs where id = p_job for no key update;
  select b.status into s from public.import_batches b
   where b.job_id = p_job and b.batch_index = p_batch
     for update;
  return s;
end
$$;

revoke all on function app.import_lock_batch(uuid, integer) from public;
