-- Each style's work belongs to one run of the request's workflow at a time. A retry started right
-- after a cancel used to set the styles back to running while the canceled run's provider calls were
-- still out: those calls then stored their images as if they were the retry's, a canceled branch
-- waking to retry called the provider again, and the retry's own calls doubled the provider's work.
--
-- owner: the workflow id (`images/<id>` or `images/<id>/retry-<n>`) whose branch generates the style;
--   set when that run starts. Only the owner's writes count (db.ts checks it on every write).
-- caller, calling_since: the run whose provider call for the style is in flight, and since when. A new
--   owner waits for a previous run's call to end before making its own, so calls are never doubled; a
--   call older than the longest a provider call may take (OPENAI_TIMEOUT_MS is at most 10 minutes) is
--   taken to have died with its worker.
alter table public.generated_images
  add column if not exists owner text,
  add column if not exists caller text,
  add column if not exists calling_since timestamptz;
