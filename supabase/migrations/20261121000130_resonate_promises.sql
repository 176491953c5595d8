-- Promises: the global lock order, settlement and its cascade, eager convergence, and the promise
-- requests. See docs/resonate-protocol.md §3 and §5.

-- ---------------------------------------------------------------------------------------------
-- Locking and settlement
-- ---------------------------------------------------------------------------------------------

-- The first step of every writing request: the rows it may write, in the global order (promise rows
-- by bytewise id, then task rows by id), before it writes any. First the promise rows it touches.
-- Then, if any of them settles in this request (p_settle, or one past its deadline, which eager
-- convergence settles), the task rows its cascade writes (that promise's task and its awaiters'
-- tasks) together with the requester's own (p_task). Left to the cascade, a child's fulfill would
-- hold the child's task and then wait for its awaiter's (a lower id) while a heartbeat holding both
-- by id waits for the child's: a deadlock. Callbacks on a promise are added only under its row lock,
-- which is held from here on, so the awaiters read here are all the cascade can find. When nothing
-- settles, the handler's own task lock is the request's only one, and it takes it next.
-- PL/pgSQL rather than SQL: a SQL function that cannot be inlined is planned on every call, and
-- this runs on every request; PL/pgSQL keeps the plan. Plain `= any (array)` probes: a union of
-- subqueries here gets a custom plan on every call (its generic plan looks dearer), and that planning
-- costs many times the locking.
create or replace function resonate._lock_rows(p_ids text[], p_task text, p_settle text, p_now bigint) returns void
language plpgsql as $$
declare
  v_settling text[];
begin
  select coalesce(array_agg(p.id) filter (where p.state = 'pending' and (p.id = p_settle or p.timeout_at <= p_now)), '{}')
    into v_settling
    from (select id, state, timeout_at from resonate.promises where id = any (p_ids) order by id for no key update) p;
  if cardinality(v_settling) > 0 then
    perform 1 from resonate.tasks
     where id = any (v_settling || p_task || array(select awaiter from resonate.callbacks where awaited = any (v_settling)))
     order by id for no key update;
  end if;
end
$$;

-- The settlement cascade, atomic with the state change that precedes it. Handles a batch so the
-- timer loop can settle many promises at once: all own tasks are fulfilled first (phase 2), so a
-- task whose own promise also settled goes straight to fulfilled instead of being resumed.
create or replace function resonate._settle_cascade(p_ids text[], p_now bigint) returns void
language plpgsql as $$
declare
  v_id text;
  v_record jsonb;
  r record;
begin
  -- Most settlements are plain steps (`ctx.run` children): no task, nobody waiting. Callbacks and
  -- listeners are only added while the promise's row lock is held, which the caller holds now, so
  -- three probes decide that there is nothing to cascade.
  if not exists (select 1 from resonate.tasks where id = any (p_ids))
     and not exists (select 1 from resonate.callbacks where awaited = any (p_ids))
     and not exists (select 1 from resonate.listeners where awaited = any (p_ids)) then
    return;
  end if;
  -- A request took these rows already, with its own task, in _lock_rows; the timer loop and a read's
  -- convergence hold no task row before this one statement, which takes them in id order.
  -- Written as a union (not `or`) so it stays two index probes instead of a scan of all tasks.
  perform 1 from resonate.tasks
   where id in (select unnest(p_ids) union select awaiter from resonate.callbacks where awaited = any (p_ids))
   order by id for no key update;

  update resonate.tasks
     set state = 'fulfilled', pid = null, ttl = null, resumes = '{}', timer_kind = null, timer_at = null
   where id = any (p_ids) and state <> 'fulfilled';
  delete from resonate.callbacks where awaiter = any (p_ids);
  -- A settled task's execute could only ever be answered with a 409.
  delete from resonate.outbox where kind = 'execute' and task_id = any (p_ids);

  foreach v_id in array p_ids loop
    for r in
      select t.id, t.state, t.version, resonate._target(p.tags) as target
        from resonate.callbacks c
        join resonate.tasks t on t.id = c.awaiter
        join resonate.promises p on p.id = c.awaiter
       where c.awaited = v_id
       order by t.id
    loop
      if r.state = 'suspended' then
        update resonate.tasks
           set state = 'pending', resumes = array[v_id], timer_kind = 0, timer_at = p_now + resonate._retry_ms()
         where id = r.id;
        if r.target is not null then
          perform resonate._emit_execute(r.id, r.version, r.target);
        end if;
      elsif r.state in ('pending', 'acquired', 'halted') then
        -- Buffered only: the task is running or will run and reads its awaited promises itself.
        update resonate.tasks
           set resumes = case when v_id = any (resumes) then resumes else resumes || v_id end
         where id = r.id;
      end if;
    end loop;
    delete from resonate.callbacks where awaited = v_id;

    if exists (select 1 from resonate.listeners where awaited = v_id) then
      select resonate._promise_json(p, null) into v_record from resonate.promises p where p.id = v_id;
      perform resonate._emit_unblock(v_record, l.address)
         from resonate.listeners l where l.awaited = v_id order by l.address;
      delete from resonate.listeners where awaited = v_id;
    end if;
  end loop;
end
$$;

-- Eager convergence: a touched promise that is past its deadline is settled now, in this
-- transaction, so guards and responses see physical state equal to logical state.
create or replace function resonate._converge(p_id text, p_now bigint) returns void
language plpgsql as $$
begin
  update resonate.promises
     set state = resonate._timeout_state(tags), settled_at = timeout_at
   where id = p_id and state = 'pending' and timeout_at <= p_now;
  if found then
    perform resonate._settle_cascade(array[p_id], p_now);
  end if;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Promise requests
-- ---------------------------------------------------------------------------------------------

create or replace function resonate._promise_get(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_p resonate.promises;
begin
  select * into v_p from resonate.promises where id = resonate._txt(p_data, 'id');
  if not found then
    return resonate._err(404, 'Promise not found');
  end if;
  return resonate._ok(200, jsonb_build_object('promise', resonate._promise_json(v_p, p_now)));
end
$$;

-- Idempotent by id: an existing promise is returned unchanged whatever the new parameters are.
-- A concurrent create of the same id waits on the unique index and then returns the winner's row.
create or replace function resonate._promise_create(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_id text := resonate._txt(p_data, 'id');
  v_timeout bigint := resonate._i64(p_data, 'timeoutAt');
  v_param jsonb := resonate._obj(p_data, 'param');
  v_tags jsonb := resonate._obj(p_data, 'tags');
  v_target text := resonate._target(v_tags);
  v_delay numeric;
  v_deferred boolean;
  v_p resonate.promises;
begin
  select * into v_p from resonate.promises where id = v_id;
  if found then
    return resonate._ok(200, jsonb_build_object('promise', resonate._promise_json(v_p, p_now)));
  end if;

  if p_now >= v_timeout then
    insert into resonate.promises (id, state, param, value, tags, timeout_at, created_at, settled_at)
    values (v_id, resonate._timeout_state(v_tags), v_param, '{}', v_tags, v_timeout, v_timeout, v_timeout)
    on conflict (id) do nothing
    returning * into v_p;
    if not found then
      select * into v_p from resonate.promises where id = v_id;
      return resonate._ok(200, jsonb_build_object('promise', resonate._promise_json(v_p, p_now)));
    end if;
    if v_target is not null then
      insert into resonate.tasks (id, state, version) values (v_id, 'fulfilled', 0) on conflict (id) do nothing;
    end if;
    return resonate._ok(200, jsonb_build_object('promise', resonate._promise_json(v_p, p_now)));
  end if;

  insert into resonate.promises (id, state, param, value, tags, timeout_at, created_at)
  values (v_id, 'pending', v_param, '{}', v_tags, v_timeout, p_now)
  on conflict (id) do nothing
  returning * into v_p;
  if not found then
    select * into v_p from resonate.promises where id = v_id;
    return resonate._ok(200, jsonb_build_object('promise', resonate._promise_json(v_p, p_now)));
  end if;

  if v_target is not null then
    v_delay := resonate._num_or_null(v_tags ->> 'resonate:delay');
    v_deferred := v_delay is not null and p_now < v_delay;
    insert into resonate.tasks (id, state, version, timer_kind, timer_at)
    values (v_id, 'pending', 0, 0,
            case when v_deferred then ceil(v_delay)::bigint else p_now + resonate._retry_ms() end);
    if not v_deferred then
      perform resonate._emit_execute(v_id, 0, v_target);
    end if;
  end if;
  return resonate._ok(200, jsonb_build_object('promise', resonate._promise_json(v_p, p_now)));
end
$$;

-- First writer wins: a promise that is logically settled (including past its deadline) is
-- returned as it is, whatever state was requested. Caller holds the row lock.
create or replace function resonate._promise_settle(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_id text := resonate._txt(p_data, 'id');
  v_state text := resonate._txt(p_data, 'state');
  v_value jsonb := resonate._obj(p_data, 'value');
  v_p resonate.promises;
begin
  select * into v_p from resonate.promises where id = v_id;
  if not found then
    return resonate._err(404, 'Promise not found');
  end if;
  -- The reference would store any state (even rejected_timedout); only clients' states are valid.
  if not resonate._valid_settle_state(v_state) then
    return resonate._err(400, 'state must be resolved, rejected or rejected_canceled');
  end if;
  if not resonate._logically_pending(v_p, p_now) then
    return resonate._ok(200, jsonb_build_object('promise', resonate._promise_json(v_p, p_now)));
  end if;
  update resonate.promises
     set state = v_state, value = v_value, settled_at = p_now
   where id = v_id
  returning * into v_p;
  perform resonate._settle_cascade(array[v_id], p_now);
  return resonate._ok(200, jsonb_build_object('promise', resonate._promise_json(v_p, p_now)));
end
$$;

create or replace function resonate._promise_register_callback(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_awaited resonate.promises;
  v_awaiter resonate.promises;
begin
  select * into v_awaited from resonate.promises where id = p_data ->> 'awaited';
  if not found then
    return resonate._err(404, 'Awaited promise not found');
  end if;
  select * into v_awaiter from resonate.promises where id = p_data ->> 'awaiter';
  if not found then
    return resonate._err(422, 'Awaiter promise not found');
  end if;
  if resonate._target(v_awaiter.tags) is null then
    return resonate._err(422, 'Awaiter has no address');
  end if;
  if resonate._logically_pending(v_awaited, p_now) and resonate._logically_pending(v_awaiter, p_now) then
    insert into resonate.callbacks (awaited, awaiter) values (v_awaited.id, v_awaiter.id) on conflict do nothing;
  end if;
  return resonate._ok(200, jsonb_build_object('promise', resonate._promise_json(v_awaited, p_now)));
end
$$;

create or replace function resonate._promise_register_listener(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_p resonate.promises;
  v_address text := resonate._txt(p_data, 'address');
begin
  select * into v_p from resonate.promises where id = p_data ->> 'awaited';
  if not found then
    return resonate._err(404, 'Promise not found');
  end if;
  if not resonate._is_external(v_p.tags) then
    return resonate._err(422, 'Awaited promise is not awaitable');
  end if;
  if resonate._logically_pending(v_p, p_now) then
    insert into resonate.listeners (awaited, address) values (v_p.id, v_address) on conflict do nothing;
  end if;
  return resonate._ok(200, jsonb_build_object('promise', resonate._promise_json(v_p, p_now)));
end
$$;
