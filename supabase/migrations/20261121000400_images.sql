-- Image generation: one row per request, one row per (request, style). Inserting a request starts the
-- workflow `images/<id>` through the `images-webhook` Edge Function; the worker fills in the rest.
-- Only metadata lives here; the PNG bytes are in Storage (bucket `images`) at `path`.

create table if not exists public.image_requests (
  id uuid primary key default gen_random_uuid(),
  prompt text not null,
  styles text[] not null default '{photorealistic,cartoon,abstract}',
  -- Failure injection for the simulated provider (see docs/images.md):
  -- {"latency_ms": {"<style>": ms}, "fail": {"<style>": N | "always" | "reject"}}. Real providers ignore it.
  options jsonb not null default '{}',
  status text not null default 'queued'
    check (status in ('queued', 'running', 'succeeded', 'partially_succeeded', 'failed')),
  error text,
  images_total int,
  images_succeeded int not null default 0,
  images_failed int not null default 0,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  -- From the insert to the last image settled: what the person who inserted the row waited.
  duration_ms int generated always as (
    (extract(epoch from (finished_at - created_at)) * 1000)::int
  ) stored
);

create index if not exists image_requests_created_at_idx on public.image_requests (created_at desc);

create table if not exists public.generated_images (
  request_id uuid not null references public.image_requests (id) on delete cascade,
  style text not null,
  status text not null default 'pending' check (status in ('pending', 'running', 'succeeded', 'failed')),
  provider text,
  path text,
  url text,
  width int,
  height int,
  bytes int,
  sha256 text,
  -- Provider calls made for this style, counted before each call and across worker crashes. A
  -- finished style is never called again, so this is how tests (and people) see that siblings of a
  -- failing style did not re-run.
  attempts int not null default 0,
  -- From the first provider call to the stored image.
  duration_ms int,
  -- The last attempt's error while retrying; the final one once status is 'failed'.
  error text,
  started_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz not null default now(),
  -- owner: the workflow id (`images/<id>` or `images/<id>/retry-<n>`) whose branch generates the style;
  --   set when that run starts. Only the owner's writes count (db.ts checks it on every write).
  -- caller, calling_since: the run whose provider call for the style is in flight, and since when. A new
  --   owner waits for a previous run's call to end before making its own, so calls are never doubled; a
  --   call older than the longest a provider call may take (OPENAI_TIMEOUT_MS is at most 10 minutes) is
  --   taken to have died with its worker.
  owner text,
  caller text,
  calling_since timestamptz,
  primary key (request_id, style)
);

-- Rows are written by the worker and read by the gallery, both as the database owner; nothing is
-- exposed to anon / authenticated clients until someone adds a policy on purpose.
alter table public.image_requests enable row level security;
alter table public.generated_images enable row level security;

-- One row per request with its workflow's state in the durable store and the provider calls it made:
-- what to look at in the dashboard or psql when a request seems stuck. security_invoker, so the
-- tables' RLS applies to whoever queries it.
create or replace view public.image_requests_overview with (security_invoker = true) as
select r.id, r.prompt, r.styles, r.status, r.images_total, r.images_succeeded, r.images_failed, r.error,
       r.created_at, r.finished_at, r.duration_ms,
       p.state as workflow_state,
       (select coalesce(sum(g.attempts), 0)::int from public.generated_images g where g.request_id = r.id) as provider_calls
  from public.image_requests r
  left join resonate.promises p on p.id = 'images/' || r.id::text;

drop trigger if exists image_requests_start_workflow on public.image_requests;
create trigger image_requests_start_workflow
  after insert on public.image_requests
  for each row execute function app.post_webhook('images-webhook');

drop trigger if exists image_requests_guard on public.image_requests;
create trigger image_requests_guard
  before update on public.image_requests
  for each row execute function app.guard_workflow_row(
    'image request', 'images',
    'prompt,styles,options',
    'status,error,images_total,images_succeeded,images_failed,started_at,finished_at');

drop trigger if exists image_requests_refuse_running_delete on public.image_requests;
create trigger image_requests_refuse_running_delete
  before delete on public.image_requests
  for each row execute function app.refuse_deleting_running_row('image request', 'images');

drop trigger if exists image_requests_refuse_reused_id on public.image_requests;
create trigger image_requests_refuse_reused_id
  before insert on public.image_requests
  for each row execute function app.refuse_reused_workflow_id('image request', 'images');

-- On a hosted project the images go to a public Storage bucket; create it with the schema. The local
-- stack has no storage schema (a folder stands in for the bucket), so this is skipped there.
do $$
begin
  if to_regclass('storage.buckets') is not null then
    insert into storage.buckets (id, name, public) values ('images', 'images', true) on conflict (id) do nothing;
  end if;
end
$$;

-- cancel_workflow('images/<id>') calls this once it has canceled the root (see cancel_workflow in
-- 20261121000600_operations.sql): the row people watch ends `failed` with an error that says it was
-- canceled, which keeps the table's documented statuses and lets retry_workflow resume it.
-- A style whose generation was still running stays failed even if its provider call returns later
-- (the worker stores nothing for a style that is no longer running, and recordSuccess only completes
-- a running one), so the request's counts hold. A style that was retrying keeps its last error.
create or replace function app.workflow_canceled_images(row_id text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.generated_images
     set status = 'failed', error = 'canceled' || coalesce(' while retrying: ' || error, ''),
         finished_at = now(), updated_at = now()
   where request_id::text = row_id and status in ('pending', 'running');
  with counts as (
    select count(*) filter (where g.status = 'succeeded')::int as succeeded,
           count(*) filter (where g.status = 'failed')::int as failed
      from public.generated_images g
     where g.request_id::text = row_id
  )
  update public.image_requests r
     set status = case when c.succeeded = 0 then 'failed' else 'partially_succeeded' end,
         images_succeeded = c.succeeded, images_failed = c.failed, finished_at = now(),
         -- Its workflow did start, even if no step ran yet: a retry may run it (see startRequest).
         started_at = coalesce(r.started_at, now()),
         error = 'canceled with cancel_workflow: ' || c.succeeded || ' of ' || cardinality(r.styles)
              || ' styles were generated; retry_workflow generates the rest'
    from counts c
   where r.id::text = row_id and r.status in ('queued', 'running');
end
$$;

revoke all on function app.workflow_canceled_images(text) from public;
