-- ---------------------------------------------------------------------------------------------
-- Dispatch: validation (400) first, then the row locks in global order (_lock_rows), then eager
-- convergence of the touched ids in the reference's order, then the handler.
-- ---------------------------------------------------------------------------------------------

create or replace function resonate._dispatch(p_req jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_kind text := p_req ->> 'kind';
  v_data jsonb := p_req -> 'data';
  v_ids text[];
  v_id text;
  v_action jsonb;
begin
  if jsonb_typeof(v_data) is distinct from 'object' and v_kind not like 'debug.%' then
    perform resonate._bad('data must be an object');
  end if;

  case v_kind
  when 'promise.get' then
    perform resonate._converge(resonate._txt(v_data, 'id'), p_now);
    return resonate._promise_get(v_data, p_now);

  when 'promise.create' then
    perform resonate._converge(resonate._txt(v_data, 'id'), p_now);
    return resonate._promise_create(v_data, p_now);

  when 'promise.settle' then
    v_id := resonate._txt(v_data, 'id');
    perform resonate._lock_rows(array[v_id], null, v_id, p_now);
    perform resonate._converge(v_id, p_now);
    return resonate._promise_settle(v_data, p_now);

  when 'promise.register_callback' then
    if resonate._txt(v_data, 'awaited') = resonate._txt(v_data, 'awaiter') then
      return resonate._err(400, 'Awaited and awaiter must be different');
    end if;
    perform resonate._lock_rows(array[v_data ->> 'awaited', v_data ->> 'awaiter'], null, null, p_now);
    perform resonate._converge(v_data ->> 'awaited', p_now);
    perform resonate._converge(v_data ->> 'awaiter', p_now);
    return resonate._promise_register_callback(v_data, p_now);

  when 'promise.register_listener' then
    v_id := resonate._txt(v_data, 'awaited');
    perform resonate._lock_rows(array[v_id], null, null, p_now);
    perform resonate._converge(v_id, p_now);
    return resonate._promise_register_listener(v_data, p_now);

  when 'task.get' then
    perform resonate._converge(resonate._txt(v_data, 'id'), p_now);
    return resonate._task_get(v_data, p_now);

  when 'task.create' then
    v_action := v_data -> 'action' -> 'data';
    if jsonb_typeof(v_action) is distinct from 'object' then
      perform resonate._bad('action.data must be an object');
    end if;
    if resonate._target(resonate._obj(v_action, 'tags')) is null then
      return resonate._err(400, 'Action must have a resonate:target tag');
    end if;
    v_id := resonate._txt(v_action, 'id');
    perform resonate._lock_rows(array[v_id], v_id, null, p_now);
    perform resonate._converge(v_id, p_now);
    return resonate._task_create(v_data, p_now);

  when 'task.acquire', 'task.release', 'task.halt', 'task.continue' then
    v_id := resonate._txt(v_data, 'id');
    perform resonate._lock_rows(array[v_id], v_id, null, p_now);
    perform resonate._converge(v_id, p_now);
    return case v_kind
      when 'task.acquire' then resonate._task_acquire(v_data, p_now)
      when 'task.release' then resonate._task_release(v_data, p_now)
      when 'task.halt' then resonate._task_halt(v_data, p_now)
      else resonate._task_continue(v_data, p_now) end;

  when 'task.fulfill' then
    v_id := resonate._txt(v_data, 'id');
    v_action := v_data -> 'action' -> 'data';
    if jsonb_typeof(v_action) is distinct from 'object' or v_action ->> 'id' is distinct from v_id then
      return resonate._err(400, 'Promise ID must match task ID');
    end if;
    if not resonate._valid_settle_state(resonate._txt(v_action, 'state')) then
      return resonate._err(400, 'state must be resolved, rejected or rejected_canceled');
    end if;
    perform resonate._lock_rows(array[v_id], v_id, v_id, p_now);
    perform resonate._converge(v_id, p_now);
    return resonate._task_fulfill(v_data, p_now);

  when 'task.suspend' then
    v_id := resonate._txt(v_data, 'id');
    if jsonb_array_length(resonate._arr(v_data, 'actions')) = 0 then
      return resonate._err(400, 'Actions list must not be empty');
    end if;
    select array_agg(a -> 'data' ->> 'awaited' order by ord) into v_ids
      from jsonb_array_elements(v_data -> 'actions') with ordinality x(a, ord);
    if exists (select 1 from jsonb_array_elements(v_data -> 'actions') a
                where (a -> 'data' ->> 'awaiter') is distinct from v_id) then
      return resonate._err(400, 'Awaiter must be the suspending task');
    end if;
    if exists (select 1 from unnest(v_ids) x where x is null) then
      perform resonate._bad('awaited must be a string');
    end if;
    if v_id = any (v_ids) then
      return resonate._err(400, 'Task cannot await its own promise');
    end if;
    perform resonate._lock_rows(array[v_id] || v_ids, v_id, null, p_now);
    perform resonate._converge(v_id, p_now);
    foreach v_action in array array(select to_jsonb(x) from unnest(v_ids) x) loop
      perform resonate._converge(v_action #>> '{}', p_now);
    end loop;
    return resonate._task_suspend(v_data, p_now);

  when 'task.fence' then
    v_id := resonate._txt(v_data, 'id');
    v_action := v_data -> 'action';
    if jsonb_typeof(v_action -> 'data') is distinct from 'object'
       or coalesce(v_action ->> 'kind', '') not in ('promise.create', 'promise.settle') then
      perform resonate._bad('action must be a promise.create or promise.settle request');
    end if;
    perform resonate._lock_rows(array[v_id, resonate._txt(v_action -> 'data', 'id')], v_id,
      case when v_action ->> 'kind' = 'promise.settle' then v_action -> 'data' ->> 'id' end, p_now);
    perform resonate._converge(v_id, p_now);
    perform resonate._converge(v_action -> 'data' ->> 'id', p_now);
    return resonate._task_fence(v_data, p_now);

  when 'task.heartbeat' then
    return resonate._task_heartbeat(v_data, p_now);

  when 'schedule.create' then
    return resonate._schedule_create(v_data, p_now);
  when 'schedule.get' then
    return resonate._schedule_get(v_data);
  when 'schedule.delete' then
    return resonate._schedule_delete(v_data);

  when 'debug.start', 'debug.stop' then
    return resonate._ok(200, '{}'::jsonb);
  when 'debug.reset', 'debug.snap', 'debug.tick' then
    if not resonate._debug_enabled() then
      return resonate._err(501, 'debug requests need `set resonate.debug_time = on`');
    end if;
    if v_kind = 'debug.reset' then
      return resonate._debug_reset();
    elsif v_kind = 'debug.snap' then
      return resonate._debug_snap();
    end if;
    perform resonate._tick(resonate._i64(v_data, 'time'));
    return resonate._ok(200, '[]'::jsonb);

  else
    return resonate._err(501, 'Not implemented');
  end case;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Entry points (docs/resonate-protocol.md §1.1). SECURITY DEFINER with a pinned search_path: callers need EXECUTE on
-- these five only, never privileges on the tables or the internal functions.
-- ---------------------------------------------------------------------------------------------

-- Tests pin time with head["resonate:debug_time"], but only in a session that opted in: in
-- production the database clock is the single time authority.
create or replace function resonate._request_now(p_head jsonb) returns bigint
language plpgsql stable as $$
begin
  if resonate._debug_enabled() and jsonb_typeof(p_head -> 'resonate:debug_time') in ('number', 'string') then
    return floor((p_head ->> 'resonate:debug_time')::numeric)::bigint;
  end if;
  return resonate._clock_ms();
end
$$;

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
