-- Local stand-in for the `storage` schema every Supabase project has: the buckets, and a row per object
-- that the Storage API writes (here scripts/stack/storage-api.ts, which keeps the bytes in files).
-- Applied by the local stack only, as the bootstrap superuser, before the migrations, so a migration
-- creates its buckets with `insert into storage.buckets` exactly as on the platform. Names follow
-- storage-api's own schema; only the columns the stand-in reads or writes are here.
create schema if not exists storage;

create table if not exists storage.buckets (
  id text primary key,
  name text not null,
  public boolean default false,
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);
create unique index if not exists bname on storage.buckets (name);

create table if not exists storage.objects (
  id uuid primary key default gen_random_uuid(),
  bucket_id text references storage.buckets (id),
  name text,
  metadata jsonb,
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);
create unique index if not exists bucketid_objname on storage.objects (bucket_id, name);

-- As on the platform: RLS on and no policies, so only roles that bypass RLS (postgres, service_role)
-- see rows until a migration adds policies.
alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;

grant all on schema storage to postgres, service_role;
grant usage on schema storage to anon, authenticated;
grant all on all tables in schema storage to postgres, service_role;
grant select on storage.buckets to anon, authenticated;
