-- Extensions every workload relies on. On a hosted project these are all available; locally the stack
-- provides the same names (pg_net is a stand-in installed by `npm run stack -- up`).
create extension if not exists pgcrypto with schema extensions;
create extension if not exists vector with schema extensions;
create extension if not exists pg_net;

-- pg_cron can only live in the database named by cron.database_name, which is 'postgres' on Supabase.
-- The setting itself is readable only by superusers (and pg_read_all_settings), which `postgres` is not,
-- so the database's name decides. Test databases created beside it skip pg_cron; everything scheduled
-- checks for the extension first.
do $$
begin
  if current_database() = 'postgres' then
    create extension if not exists pg_cron;
  end if;
end
$$;
