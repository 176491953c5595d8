-- The debug gate was a setting: any role that may call resonate.resonate_rpc (service_role, whose key
-- a backend holds) could `set local resonate.debug_time = on` and then send debug.reset (truncates the
-- whole durable store), debug.tick (moves time) or pin the clock with head["resonate:debug_time"].
-- Now the setting counts only for a role that is a member of `resonate_debugger`, a role nobody is
-- granted except by a test harness (test/resonate/*.test.ts grant it to themselves on the local
-- stack). Everyone else gets 403 for the debug requests and the database clock for every request.

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

revoke all on function resonate._debug_permitted() from public;

-- As in 20261128000100_lint_fixes.sql, with the debug requests refused first for other roles.
-- Never raises: the SDK turns an exception into a hard error with no retry, but handles statuses.
create or replace function resonate.resonate_rpc(req jsonb) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
  v_kind jsonb;
  v_head jsonb := '{}'::jsonb;
  v_out jsonb;
  v_now bigint;
  v_attempt integer := 0;
begin
  if jsonb_typeof(req) = 'object' then
    v_kind := req -> 'kind';
    if jsonb_typeof(req -> 'head') = 'object' then
      v_head := req -> 'head';
    end if;
  end if;
  -- Before anything else, so no session setting can reach them.
  if v_kind in ('"debug.reset"', '"debug.snap"', '"debug.tick"') and not resonate._debug_permitted() then
    v_out := resonate._err(403, 'debug requests are for test harnesses: the calling role needs membership in resonate_debugger');
  end if;
  while v_out is null loop
    begin
      if jsonb_typeof(req) is distinct from 'object' or jsonb_typeof(v_kind) is distinct from 'string' then
        perform resonate._bad('request must be an object with a string kind');
      end if;
      v_now := resonate._request_now(v_head);
      -- A local step's two fences are most of a running workflow's requests (see _task_fence_fast).
      if v_kind = '"task.fence"' then
        v_out := resonate._task_fence_fast(req -> 'data', v_now);
      end if;
      if v_out is null then
        v_out := resonate._dispatch(req, v_now);
      end if;
      exit;
    exception
      when deadlock_detected or serialization_failure or lock_not_available or unique_violation then
        -- The subtransaction rolled back and released its locks; a retry sees the winner's rows.
        v_attempt := v_attempt + 1;
        if v_attempt >= 10 then
          v_out := resonate._err(500, sqlerrm);
          exit;
        end if;
        perform pg_sleep(random() * 0.002 * v_attempt);
      when sqlstate 'RS400' or data_exception then
        v_out := resonate._err(400, sqlerrm);
        exit;
      when others then
        v_out := resonate._err(500, sqlerrm);
        exit;
    end;
  end loop;
  -- No JSON nulls anywhere: SDK harnesses' isResponse() rejects them.
  return jsonb_strip_nulls(jsonb_build_object(
    'kind', v_kind,
    'head', jsonb_build_object('corrId', v_head -> 'corrId', 'status', v_out -> 'status', 'version', v_head -> 'version'),
    'data', v_out -> 'data'));
end
$$;
