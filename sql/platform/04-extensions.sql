-- The extensions that need a superuser to create, installed as `supabase_admin` before any migration,
-- with the grants the platform gives `postgres`. On a hosted project supautils lets `postgres` create
-- exactly these; locally they exist before the migrations' `create extension if not exists` runs, which
-- then does nothing.
create extension if not exists pgcrypto with schema extensions;
create extension if not exists vector with schema extensions;
create extension if not exists pg_net;
-- `supabase db lint` runs `create extension if not exists plpgsql_check`, which needs a superuser.
create extension if not exists plpgsql_check;

grant usage on schema net to postgres, service_role;
grant execute on all functions in schema net to postgres, service_role;
grant select on all tables in schema net to postgres;

-- pg_cron can only live in the database named by cron.database_name; throw-away test databases skip it.
do $$
begin
  if current_setting('cron.database_name', true) = current_database() then
    create extension if not exists pg_cron;
    grant usage on schema cron to postgres;
    grant all on all tables in schema cron to postgres;
    grant all on all sequences in schema cron to postgres;
    grant execute on all functions in schema cron to postgres;
  end if;
end
$$;
