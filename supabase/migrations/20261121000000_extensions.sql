-- Extensions every workload relies on. On a hosted project these are all available; locally the stack
-- provides the same names (pg_net is a stand-in installed by `npm run stack -- up`).
create extension if not exists pgcrypto with schema extensions;
create extension if not exists vector with schema extensions;
create extension if not exists pg_net;

-- pg_cron can only live in the database named by cron.database_name ('postgres' on Supabase). Test
-- databases created beside it skip it; everything scheduled checks for the extension first.
do $$
begin
  if current_setting('cron.database_name', true) = current_database() then
    create extension if not exists pg_cron;
  end if;
end
$$;
