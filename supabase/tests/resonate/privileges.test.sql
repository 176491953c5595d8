-- Privileges (20261121000199_resonate_privileges.sql, and app's in 20261121000200_app_webhooks.sql): the
-- API roles anon and authenticated can execute nothing in schemas resonate and app and cannot reach
-- them; service_role executes exactly the entry points granted to it and reads the store's tables
-- without writing them.
begin;
select plan(10);

select is_empty($$
  select p.oid::regprocedure from pg_proc p
   where p.pronamespace in ('resonate'::regnamespace, 'app'::regnamespace)
     and (has_function_privilege('anon', p.oid, 'execute') or has_function_privilege('authenticated', p.oid, 'execute'))
$$, 'anon and authenticated can execute no function in resonate or app');

select set_eq($$
  select p.oid::regprocedure::text from pg_proc p
   where p.pronamespace in ('resonate'::regnamespace, 'app'::regnamespace)
     and has_function_privilege('service_role', p.oid, 'execute')
$$, array[
  'resonate.resonate_rpc(jsonb)', 'resonate.outbox_channel(text)', 'resonate.process_timeouts()',
  'resonate.dequeue_execute(text,integer)', 'resonate.dequeue_unblock(text,integer)',
  'resonate.gc(interval)', 'resonate.resonate_batch(jsonb)',
  'resonate.resonate_step(text,integer,text,bigint,jsonb,jsonb,text,jsonb)', 'resonate.worker_register(text,text,text,text[])',
  'resonate.worker_tick(text,text,text,integer,integer)', 'resonate.held_tasks(text)',
  'app.workflow_attempts(text)', 'app.like_literal(text)'],
  'service_role executes exactly the entry points, and the two helpers workflow_runs calls');
-- The timer pass at a time of the caller's choosing would time out every pending promise and lease: it is
-- debug.tick without the debug gate. Only the owner (tests, an operator as postgres) runs it.
select ok(not has_function_privilege('service_role', 'resonate.process_timeouts(bigint)', 'execute'),
          'service_role cannot run the timer pass at a time it chooses');

select ok(not has_schema_privilege('anon', 'resonate', 'usage') and not has_schema_privilege('authenticated', 'resonate', 'usage'),
          'the API roles have no usage on schema resonate');
select ok(not has_schema_privilege('anon', 'app', 'usage') and not has_schema_privilege('authenticated', 'app', 'usage'),
          'nor on schema app');

select is_empty($$
  select c.oid::regclass from pg_class c
   where c.relnamespace = 'resonate'::regnamespace and c.relkind = 'r'
     and (not has_table_privilege('service_role', c.oid, 'select')
          or has_table_privilege('service_role', c.oid, 'insert, update, delete, truncate'))
$$, 'service_role reads every table of the store and writes none');
select ok(not has_table_privilege('anon', 'resonate.promises', 'select'), 'anon cannot read promises');

select is_empty($$
  select f from unnest(array['public.cancel_workflow(text)', 'public.retry_workflow(text)', 'public.workflow_steps(text)',
                              'public.refresh_search_stats()',
                              'public.search_chunks(extensions.vector,text,integer,text,bigint,integer)']) f
   where has_function_privilege('anon', f::regprocedure, 'execute')
      or has_function_privilege('authenticated', f::regprocedure, 'execute')
$$, 'the operations and search functions in public are not the API roles'' either');
select ok(has_function_privilege('service_role', 'public.cancel_workflow(text)', 'execute')
          and has_function_privilege('service_role', 'public.retry_workflow(text)', 'execute')
          and has_function_privilege('service_role', 'public.workflow_steps(text)', 'execute'),
          'service_role operates workflows');
select ok(not has_table_privilege('anon', 'public.workflow_runs', 'select')
          and has_table_privilege('service_role', 'public.workflow_runs', 'select'),
          'workflow_runs is for service_role, not anon');

select * from finish();
rollback;
