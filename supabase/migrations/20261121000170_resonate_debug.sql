-- ---------------------------------------------------------------------------------------------
-- Debug requests (test harnesses only: debug.reset wipes the store and debug.tick moves time). Both
-- they and head["resonate:debug_time"] need the session setting resonate.debug_time = on AND a
-- calling role that is a member of resonate_debugger, a role nobody is granted except by a test
-- harness; resonate_rpc answers 403 to debug requests from any other role before anything else.
-- ---------------------------------------------------------------------------------------------

do $$
begin
  if not exists (select from pg_roles where rolname = 'resonate_debugger') then
    create role resonate_debugger nologin;
  end if;
end
$$;

-- The role that called resonate_rpc. The entry points are SECURITY DEFINER, so current_user is their
-- owner here; the caller is the role the session SET ROLE to (PostgREST's service_role), else the
-- session's own login role.
create or replace function resonate._debug_permitted() returns boolean
language sql stable as $$
  select pg_has_role(
    case when coalesce(current_setting('role', true), 'none') = 'none' then session_user
         else current_setting('role', true) end,
    'resonate_debugger', 'MEMBER')
$$;

create or replace function resonate._debug_enabled() returns boolean
language sql stable as $$
  select coalesce(current_setting('resonate.debug_time', true), '') in ('on', 'true', '1', 'yes')
     and resonate._debug_permitted()
$$;

create or replace function resonate._debug_reset() returns jsonb
language plpgsql as $$
begin
  truncate resonate.callbacks, resonate.listeners, resonate.tasks, resonate.promises, resonate.schedules, resonate.outbox;
  return resonate._ok(200, '{}'::jsonb);
end
$$;

create or replace function resonate._debug_snap() returns jsonb
language sql stable as $$
  select resonate._ok(200, jsonb_build_object(
    'promises', (select coalesce(jsonb_agg(resonate._promise_json(p, null) order by p.id), '[]') from resonate.promises p),
    'promiseTimeouts', (select coalesce(jsonb_agg(jsonb_build_object('id', p.id, 'timeout', p.timeout_at) order by p.id), '[]')
                          from resonate.promises p where p.state = 'pending'),
    'callbacks', (select coalesce(jsonb_agg(jsonb_build_object('awaiter', c.awaiter, 'awaited', c.awaited) order by c.awaited, c.awaiter), '[]')
                    from resonate.callbacks c),
    'listeners', (select coalesce(jsonb_agg(jsonb_build_object('id', l.awaited, 'address', l.address) order by l.awaited, l.address), '[]')
                    from resonate.listeners l),
    'tasks', (select coalesce(jsonb_agg(resonate._task_json(t, false) order by t.id), '[]') from resonate.tasks t),
    'taskTimeouts', (select coalesce(jsonb_agg(jsonb_build_object('id', t.id, 'type', t.timer_kind, 'timeout', t.timer_at) order by t.id), '[]')
                       from resonate.tasks t where t.timer_at is not null),
    'messages', (select coalesce(jsonb_agg(jsonb_build_object(
                    'address', o.address,
                    'message', case when o.kind = 'execute'
                      then jsonb_build_object('kind', 'execute', 'head', '{}'::jsonb,
                             'data', jsonb_build_object('task', jsonb_build_object('id', o.task_id, 'version', o.version)))
                      else jsonb_build_object('kind', 'unblock', 'head', '{}'::jsonb,
                             'data', jsonb_build_object('promise', o.promise)) end) order by o.seq), '[]')
                   from resonate.outbox o)))
$$;
