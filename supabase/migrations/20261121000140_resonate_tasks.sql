-- Tasks: the task requests, with their fencing, and the fast path for a local step's two fences.
-- See docs/resonate-protocol.md §4 and §5.

-- ---------------------------------------------------------------------------------------------
-- Task requests
-- ---------------------------------------------------------------------------------------------

create or replace function resonate._task_get(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_task jsonb := resonate._task_view(resonate._txt(p_data, 'id'), p_now);
begin
  if v_task is null then
    return resonate._err(404, 'Task not found');
  end if;
  return resonate._ok(200, jsonb_build_object('task', v_task));
end
$$;

-- The caller (the SDK's run()) already owns the work, so a new task starts acquired and no
-- execute is sent.
create or replace function resonate._task_create(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_action jsonb := p_data -> 'action' -> 'data';
  v_id text := resonate._txt(v_action, 'id');
  v_timeout bigint := resonate._i64(v_action, 'timeoutAt');
  v_param jsonb := resonate._obj(v_action, 'param');
  v_tags jsonb := resonate._obj(v_action, 'tags');
  v_pid text := resonate._txt(p_data, 'pid');
  v_ttl bigint := resonate._i64(p_data, 'ttl');
  v_t resonate.tasks;
  v_p resonate.promises;
begin
  for attempt in 1..3 loop
    select * into v_t from resonate.tasks where id = v_id for no key update;
    if found then
      select * into v_p from resonate.promises where id = v_id;
      if v_t.state = 'pending' then
        update resonate.tasks
           set state = 'acquired', version = version + 1, pid = v_pid, ttl = v_ttl, resumes = '{}',
               timer_kind = 1, timer_at = p_now + v_ttl
         where id = v_id
        returning * into v_t;
      elsif v_t.state <> 'fulfilled' then
        return resonate._err(409, 'Task already exists');
      end if;
      return resonate._ok(200, jsonb_build_object(
        'task', resonate._task_json(v_t, false),
        'promise', resonate._promise_json(v_p, p_now),
        'preload', resonate._preload(v_id, p_now)));
    end if;

    select * into v_p from resonate.promises where id = v_id;
    if found then
      if resonate._target(v_p.tags) is null then
        return resonate._err(422, 'Promise has no address');
      end if;
      return resonate._err(409, 'Promise already exists');
    end if;

    if p_now >= v_timeout then
      insert into resonate.promises (id, state, param, value, tags, timeout_at, created_at, settled_at)
      values (v_id, resonate._timeout_state(v_tags), v_param, '{}', v_tags, v_timeout, v_timeout, v_timeout)
      on conflict (id) do nothing
      returning * into v_p;
      continue when not found;
      insert into resonate.tasks (id, state, version) values (v_id, 'fulfilled', 0) returning * into v_t;
      return resonate._ok(200, jsonb_build_object(
        'task', resonate._task_json(v_t, false),
        'promise', resonate._promise_json(v_p, p_now),
        'preload', '[]'::jsonb));
    end if;

    insert into resonate.promises (id, state, param, value, tags, timeout_at, created_at)
    values (v_id, 'pending', v_param, '{}', v_tags, v_timeout, p_now)
    on conflict (id) do nothing
    returning * into v_p;
    -- Lost a race with a concurrent create: re-evaluate against the winner's rows.
    continue when not found;
    insert into resonate.tasks (id, state, version, pid, ttl, timer_kind, timer_at)
    values (v_id, 'acquired', 1, v_pid, v_ttl, 1, p_now + v_ttl)
    returning * into v_t;
    return resonate._ok(200, jsonb_build_object(
      'task', resonate._task_json(v_t, false),
      'promise', resonate._promise_json(v_p, p_now),
      'preload', resonate._preload(v_id, p_now)));
  end loop;
  return resonate._err(500, 'task.create did not converge');
end
$$;

create or replace function resonate._task_acquire(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_id text := resonate._txt(p_data, 'id');
  v_version integer := resonate._version(p_data, 'version');
  v_pid text := resonate._txt(p_data, 'pid');
  v_ttl bigint := resonate._i64(p_data, 'ttl');
  v_t resonate.tasks;
  v_p resonate.promises;
begin
  select * into v_t from resonate.tasks where id = v_id for no key update;
  if not found then
    return resonate._err(404, 'Task not found');
  end if;
  if v_t.state <> 'pending' then
    return resonate._err(409, 'Task not in pending state');
  end if;
  select * into v_p from resonate.promises where id = v_id;
  if not resonate._logically_pending(v_p, p_now) then
    return resonate._err(409, 'Task logically fulfilled');
  end if;
  if v_t.version is distinct from v_version then
    return resonate._err(409, 'Version mismatch');
  end if;
  update resonate.tasks
     set state = 'acquired', version = version + 1, pid = v_pid, ttl = v_ttl, resumes = '{}',
         timer_kind = 1, timer_at = p_now + v_ttl
   where id = v_id
  returning * into v_t;
  return resonate._ok(200, jsonb_build_object(
    'task', resonate._task_json(v_t, false),
    'promise', resonate._promise_json(v_p, p_now),
    'preload', resonate._preload(v_id, p_now)));
end
$$;

-- The fencing shared by release, suspend, fulfill and fence. Returns the locked task, or null
-- with the error response in p_error. The pid is deliberately not checked (only heartbeat does).
create or replace function resonate._task_fence_check(p_data jsonb, p_now bigint, p_conflict text, out o_task resonate.tasks, out o_error jsonb)
language plpgsql as $$
declare
  v_id text := resonate._txt(p_data, 'id');
  v_version integer := resonate._version(p_data, 'version');
  v_p resonate.promises;
begin
  select * into o_task from resonate.tasks where id = v_id for no key update;
  if not found then
    o_task := null;
    o_error := resonate._err(404, 'Task not found');
    return;
  end if;
  select * into v_p from resonate.promises where id = v_id;
  if o_task.state <> 'acquired' or not resonate._logically_pending(v_p, p_now) then
    o_task := null;
    o_error := resonate._err(409, coalesce(p_conflict, 'Task not acquired'));
    return;
  end if;
  if o_task.version is distinct from v_version then
    o_task := null;
    o_error := resonate._err(409, coalesce(p_conflict, 'Version mismatch'));
  end if;
end
$$;

create or replace function resonate._task_release(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_check record;
  v_target text;
begin
  select * into v_check from resonate._task_fence_check(p_data, p_now, null);
  if v_check.o_error is not null then
    return v_check.o_error;
  end if;
  update resonate.tasks
     set state = 'pending', pid = null, ttl = null, timer_kind = 0, timer_at = p_now + resonate._retry_ms()
   where id = (v_check.o_task).id;
  select resonate._target(tags) into v_target from resonate.promises where id = (v_check.o_task).id;
  if v_target is not null then
    perform resonate._emit_execute((v_check.o_task).id, (v_check.o_task).version, v_target);
  end if;
  return resonate._ok(200, '{}'::jsonb);
end
$$;

create or replace function resonate._task_fulfill(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_check record;
  v_action jsonb := p_data -> 'action' -> 'data';
  v_p resonate.promises;
begin
  select * into v_check from resonate._task_fence_check(p_data, p_now, null);
  if v_check.o_error is not null then
    return v_check.o_error;
  end if;
  update resonate.promises
     set state = resonate._txt(v_action, 'state'), value = resonate._obj(v_action, 'value'), settled_at = p_now
   where id = (v_check.o_task).id
  returning * into v_p;
  perform resonate._settle_cascade(array[v_p.id], p_now);
  return resonate._ok(200, jsonb_build_object('promise', resonate._promise_json(v_p, p_now)));
end
$$;

-- Both the 300 and the 200 path are decided while the task and every awaited promise are locked
-- (the caller locked them in the global order), so a settle of an awaited promise either happened
-- before (300) or will see our callback (wake-up).
create or replace function resonate._task_suspend(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_check record;
  v_id text := p_data ->> 'id';
  v_awaited text[];
begin
  select * into v_check from resonate._task_fence_check(p_data, p_now, null);
  if v_check.o_error is not null then
    return v_check.o_error;
  end if;
  -- Duplicates are harmless: the callback set deduplicates them.
  select array_agg(distinct a -> 'data' ->> 'awaited') into v_awaited
    from jsonb_array_elements(p_data -> 'actions') a;
  if exists (select 1 from unnest(v_awaited) x(id) where not exists (select 1 from resonate.promises p where p.id = x.id)) then
    return resonate._err(422, 'Awaited promise not found');
  end if;
  if exists (select 1 from resonate.promises p where p.id = any (v_awaited) and not resonate._logically_pending(p, p_now)) then
    update resonate.tasks set resumes = '{}' where id = v_id;
    return resonate._ok(300, jsonb_build_object('preload', resonate._preload(v_id, p_now)));
  end if;
  insert into resonate.callbacks (awaited, awaiter)
  select x.id, v_id from unnest(v_awaited) x(id)
  on conflict do nothing;
  update resonate.tasks
     set state = 'suspended', pid = null, ttl = null, resumes = '{}', timer_kind = null, timer_at = null
   where id = v_id;
  return resonate._ok(200, '{}'::jsonb);
end
$$;

create or replace function resonate._task_fence(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_check record;
  v_action jsonb := p_data -> 'action';
  v_inner jsonb;
begin
  select * into v_check from resonate._task_fence_check(p_data, p_now, 'Fence check failed');
  if v_check.o_error is not null then
    return v_check.o_error;
  end if;
  if v_action ->> 'kind' = 'promise.create' then
    -- Starting a local step (a child without a target: no task, no message) need not wait for its own
    -- WAL flush. The step's outcome is recorded next by a synchronous commit, which flushes this
    -- record with it; if the database crashes first, both are lost together and the replay simply
    -- starts the step again, as after a worker crash. One fsync per step instead of two.
    if resonate._target(resonate._obj(v_action -> 'data', 'tags')) is null then
      perform set_config('synchronous_commit', 'off', true);
    end if;
    v_inner := resonate._promise_create(v_action -> 'data', p_now);
  else
    v_inner := resonate._promise_settle(v_action -> 'data', p_now);
  end if;
  return resonate._ok(200, jsonb_build_object(
    'action', jsonb_build_object(
      'kind', v_action ->> 'kind',
      'head', jsonb_build_object(
        'corrId', v_action -> 'head' -> 'corrId',
        'status', v_inner -> 'status',
        'version', v_action -> 'head' -> 'version'),
      'data', v_inner -> 'data'),
    'preload', '[]'::jsonb));
end
$$;

create or replace function resonate._task_halt(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_t resonate.tasks;
begin
  select * into v_t from resonate.tasks where id = resonate._txt(p_data, 'id') for no key update;
  if not found then
    return resonate._err(404, 'Task not found');
  end if;
  if v_t.state = 'fulfilled' then
    return resonate._err(409, 'Task is fulfilled');
  end if;
  if v_t.state <> 'halted' then
    update resonate.tasks
       set state = 'halted', pid = null, ttl = null, timer_kind = null, timer_at = null
     where id = v_t.id;
  end if;
  return resonate._ok(200, '{}'::jsonb);
end
$$;

create or replace function resonate._task_continue(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_t resonate.tasks;
  v_target text;
begin
  select * into v_t from resonate.tasks where id = resonate._txt(p_data, 'id') for no key update;
  if not found then
    return resonate._err(404, 'Task not found');
  end if;
  if v_t.state <> 'halted' then
    return resonate._err(409, 'Task is not halted');
  end if;
  update resonate.tasks
     set state = 'pending', timer_kind = 0, timer_at = p_now + resonate._retry_ms()
   where id = v_t.id;
  select resonate._target(tags) into v_target from resonate.promises where id = v_t.id;
  if v_target is not null then
    perform resonate._emit_execute(v_t.id, v_t.version, v_target);
  end if;
  return resonate._ok(200, '{}'::jsonb);
end
$$;

create or replace function resonate._task_heartbeat(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_pid text := resonate._txt(p_data, 'pid');
  v_tasks jsonb := resonate._arr(p_data, 'tasks');
begin
  with refs as (
    select e ->> 'id' as id, resonate._exact_version(e -> 'version') as version
      from jsonb_array_elements(v_tasks) e
  ), locked as (
    select t.id from resonate.tasks t join refs on refs.id = t.id
     where t.state = 'acquired' and t.version = refs.version and t.pid = v_pid
     order by t.id
     for no key update of t
  )
  update resonate.tasks t
     set timer_kind = 1, timer_at = p_now + coalesce(t.ttl, 30000)
    from locked, resonate.promises p
   where t.id = locked.id and p.id = t.id and resonate._logically_pending(p, p_now)
     and t.state = 'acquired' and t.pid = v_pid;
  return resonate._ok(200, '{}'::jsonb);
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Fast path for the two fences of every local step (`ctx.run`): promise.create of a child without
-- a target, and promise.settle of a child nobody waits on. These are nearly all of a running
-- workflow's requests, and the general path spends most of its time in helper calls, repeated
-- validation and re-reads of rows it already has. This path takes the same locks in the same order
-- and answers only when it can prove the general path would do exactly the same writes and answer
-- the same; on anything else (bad shape, fence failure, a deadline passed, a target, a cascade) it
-- returns null before writing anything, and the general path decides. Row locks taken before a
-- fallback are the ones the general path takes next anyway.
-- ---------------------------------------------------------------------------------------------

create or replace function resonate._task_fence_fast(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_action jsonb := p_data -> 'action';
  v_kind text := v_action ->> 'kind';
  v_adata jsonb := v_action -> 'data';
  v_id text := p_data ->> 'id';
  v_child_id text := v_adata ->> 'id';
  v_root_state text;
  v_root_timeout bigint;
  v_promise jsonb;
  v_c resonate.promises;
  v_fenced boolean;
  v_tags jsonb;
  v_param jsonb;
  v_value jsonb;
  v_timeout bigint;
begin
  if jsonb_typeof(p_data) is distinct from 'object'
     or jsonb_typeof(p_data -> 'id') is distinct from 'string'
     or jsonb_typeof(p_data -> 'version') is distinct from 'number'
     or jsonb_typeof(v_adata) is distinct from 'object'
     or jsonb_typeof(v_adata -> 'id') is distinct from 'string'
     or v_kind is null or v_kind not in ('promise.create', 'promise.settle')
     or v_child_id = v_id then
    return null;
  end if;
  -- Malformed input is the general path's to report, with its statuses and messages in its order.
  if v_kind = 'promise.create' then
    if jsonb_typeof(v_adata -> 'timeoutAt') is distinct from 'number'
       or jsonb_typeof(v_adata -> 'tags') is distinct from 'object'
       or jsonb_typeof(v_adata -> 'param') is distinct from 'object' then
      return null;
    end if;
    v_tags := jsonb_strip_nulls(v_adata -> 'tags');
    if nullif(v_tags ->> 'resonate:target', '') is not null then
      return null;
    end if;
    v_param := jsonb_strip_nulls(v_adata -> 'param');
  else
    if jsonb_typeof(v_adata -> 'state') is distinct from 'string'
       or (v_adata ->> 'state') not in ('resolved', 'rejected', 'rejected_canceled')
       or jsonb_typeof(v_adata -> 'value') is distinct from 'object' then
      return null;
    end if;
    v_value := jsonb_strip_nulls(v_adata -> 'value');
  end if;

  -- Both promise rows in the global (bytewise id) order.
  if v_id < v_child_id collate "C" then
    select state, timeout_at into v_root_state, v_root_timeout
      from resonate.promises where id = v_id for no key update;
    select * into v_c from resonate.promises where id = v_child_id for no key update;
  else
    select * into v_c from resonate.promises where id = v_child_id for no key update;
    select state, timeout_at into v_root_state, v_root_timeout
      from resonate.promises where id = v_id for no key update;
  end if;
  -- A root past its deadline needs convergence, which is the general path's job.
  if v_root_state is distinct from 'pending' or p_now >= v_root_timeout then
    return null;
  end if;
  -- Everything that hands over to the general path because of a settlement it would cascade (a
  -- deadline passed, a task or anyone waiting on the step) is decided before the task row is locked:
  -- the general path locks the task rows the cascade writes together, in id order, and the fencing
  -- task's may sort after an awaiter's. Callbacks and listeners are added only under the step's row
  -- lock, which we hold, so if there are none (and no task) now, settling has no cascade.
  if v_kind = 'promise.create' then
    if v_c.state = 'pending' and p_now >= v_c.timeout_at then
      return null;
    end if;
  elsif v_c.id is null or v_c.state <> 'pending' or p_now >= v_c.timeout_at
     or exists (select 1 from resonate.tasks where id = v_child_id)
     or exists (select 1 from resonate.callbacks where awaited = v_child_id)
     or exists (select 1 from resonate.listeners where awaited = v_child_id) then
    return null;
  end if;
  -- Then the task row: promise rows before task rows.
  select t.state = 'acquired' and t.version = resonate._exact_version(p_data -> 'version') into v_fenced
    from resonate.tasks t where t.id = v_id for no key update;
  if v_fenced is not true then
    return null;
  end if;

  if v_kind = 'promise.create' then
    -- Cast here, where the general path casts it (even for an existing child): an out-of-range
    -- value fails after the fence check, not before it.
    v_timeout := floor((v_adata ->> 'timeoutAt')::numeric)::bigint;
    if v_c.id is not null then
      v_promise := resonate._promise_json(v_c, p_now);
    else
      if p_now >= v_timeout then
        return null;
      end if;
      insert into resonate.promises as p (id, state, param, value, tags, timeout_at, created_at)
      values (v_child_id, 'pending', v_param, '{}', v_tags, v_timeout, p_now)
      on conflict (id) do nothing
      returning resonate._promise_json(p, p_now) into v_promise;
      if not found then
        return null;
      end if;
    end if;
    -- See _task_fence: a local step's start need not wait for its own WAL flush.
    perform set_config('synchronous_commit', 'off', true);
  else
    update resonate.promises p
       set state = v_adata ->> 'state', value = v_value, settled_at = p_now
     where p.id = v_child_id
    returning resonate._promise_json(p, p_now) into v_promise;
  end if;

  return jsonb_build_object('status', 200, 'data', jsonb_build_object(
    'action', jsonb_build_object(
      'kind', v_kind,
      'head', jsonb_build_object(
        'corrId', v_action -> 'head' -> 'corrId',
        'status', 200,
        'version', v_action -> 'head' -> 'version'),
      'data', jsonb_build_object('promise', v_promise)),
    'preload', '[]'::jsonb));
end
$$;
