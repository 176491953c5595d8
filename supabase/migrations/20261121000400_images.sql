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

-- On a hosted project the images go to a public Storage bucket; create it with the schema. The local
-- stack has no storage schema (a folder stands in for the bucket), so this is skipped there.
do $$
begin
  if to_regclass('storage.buckets') is not null then
    insert into storage.buckets (id, name, public) values ('images', 'images', true) on conflict (id) do nothing;
  end if;
end
$$;
