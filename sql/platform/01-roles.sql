-- Local stand-in for the roles and default privileges every Supabase project has. Applied by the
-- local stack only, as the bootstrap superuser `supabase_admin`, never by a migration.
--
-- `postgres` is not a superuser on the platform: it has CREATEROLE, CREATEDB, REPLICATION and BYPASSRLS,
-- owns the database, and is a member of the API roles. Migrations and the app run as it here too, so a
-- statement that needs a superuser fails locally with Postgres's own error, as it would when deployed.
--
-- Like the platform, the API roles get broad table privileges in `public`, so Row Level Security is
-- what actually protects data: the RLS tests are meaningful only because of these grants.
do $$
begin
  if not exists (select from pg_roles where rolname = 'postgres') then
    create role postgres login password 'postgres';
  end if;
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
end
$$;
alter role postgres with login nosuperuser createrole createdb replication bypassrls;
grant anon, authenticated, service_role to postgres;
-- The platform lets postgres end other sessions (the dashboard's "terminate"), not superusers' ones.
grant pg_signal_backend, pg_read_all_stats to postgres;

do $$
begin
  execute format('alter database %I owner to postgres', current_database());
end
$$;

create schema if not exists extensions;
grant usage, create on schema extensions to postgres;
grant usage on schema extensions to anon, authenticated, service_role;
grant usage on schema public to anon, authenticated, service_role;

alter default privileges for role postgres in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on sequences to anon, authenticated, service_role;
