-- ---------------------------------------------------------------------------------------------
-- Privileges: nothing for anon/authenticated (the schema would otherwise be reachable through
-- PUBLIC's default EXECUTE on functions); the worker's role gets the entry points and read access
-- for inspection. Not process_timeouts(now): the timer pass at a time of the caller's choosing times out
-- every pending promise and lease, what debug.tick does behind the debug gate (20261121000170). The
-- workers and pg_cron run process_timeouts(), on the database clock; the tests run the other as postgres.
-- ---------------------------------------------------------------------------------------------

revoke all on schema resonate from public;
revoke all on all tables in schema resonate from public;
revoke all on all sequences in schema resonate from public;
revoke all on all functions in schema resonate from public;
-- A function added by a later migration gets PUBLIC's EXECUTE again (a per-schema default privilege
-- cannot take away a global one), so it must revoke it itself; supabase/tests/resonate/privileges.test.sql
-- fails on one that does not.

do $$
declare
  v_role text;
begin
  foreach v_role in array array['anon', 'authenticated'] loop
    if exists (select from pg_roles where rolname = v_role) then
      execute format('revoke all on schema resonate from %I', v_role);
      execute format('revoke all on all tables in schema resonate from %I', v_role);
      execute format('revoke all on all sequences in schema resonate from %I', v_role);
      execute format('revoke all on all functions in schema resonate from %I', v_role);
    end if;
  end loop;
  if exists (select from pg_roles where rolname = 'service_role') then
    grant usage on schema resonate to service_role;
    grant select on all tables in schema resonate to service_role;
    grant execute on function
      resonate.resonate_rpc(jsonb),
      resonate.outbox_channel(text),
      resonate.process_timeouts(),
      resonate.dequeue_execute(text, integer),
      resonate.dequeue_unblock(text, integer),
      resonate.gc(interval),
      resonate.resonate_batch(jsonb),
      resonate.resonate_step(text, integer, text, bigint, jsonb, jsonb, text, jsonb),
      resonate.worker_register(text, text, text, text[]),
      resonate.worker_tick(text, text, text, integer, integer),
      resonate.held_tasks(text)
    to service_role;
  end if;
end
$$;
