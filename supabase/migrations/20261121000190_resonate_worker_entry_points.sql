-- Entry points for the worker's own Network adapter (functions/shared/store/): many requests in one
-- call and one commit, one round trip per delivery tick, and worker liveness read from the database
-- session itself. These are additions: resonate_rpc, process_timeouts, dequeue_execute, dequeue_unblock
-- and outbox_channel stay as they are, so the SDK's PostgresNetwork keeps working against this schema.

-- ---------------------------------------------------------------------------------------------
-- Batches
-- ---------------------------------------------------------------------------------------------

-- One request, answered exactly as resonate_rpc answers it (20261121000180_resonate_entry_points.sql),
-- except that a lock conflict (deadlock, serialization failure, lock timeout, a concurrent insert of
-- the same id) answers null instead of being waited out and retried here: inside a batch the locks
-- of the batch's earlier requests stay held until it commits, so the conflict would outlive every
-- retry. The caller sends it again later.
create or replace function resonate._rpc_once(req jsonb) returns jsonb
language plpgsql as $$
declare
  v_kind jsonb;
  v_head jsonb := '{}'::jsonb;
  v_out jsonb;
  v_now bigint;
begin
  if jsonb_typeof(req) = 'object' then
    v_kind := req -> 'kind';
    if jsonb_typeof(req -> 'head') = 'object' then
      v_head := req -> 'head';
    end if;
  end if;
  begin
    if jsonb_typeof(req) is distinct from 'object' or jsonb_typeof(v_kind) is distinct from 'string' then
      perform resonate._bad('request must be an object with a string kind');
    end if;
    if v_kind in ('"debug.reset"', '"debug.snap"', '"debug.tick"') and not resonate._debug_permitted() then
      v_out := resonate._err(403, 'debug requests are for test harnesses: the calling role needs membership in resonate_debugger');
    else
      v_now := resonate._request_now(v_head);
      if v_kind = '"task.fence"' then
        v_out := resonate._task_fence_fast(req -> 'data', v_now);
      end if;
      if v_out is null then
        v_out := resonate._dispatch(req, v_now);
      end if;
    end if;
  exception
    when deadlock_detected or serialization_failure or lock_not_available or unique_violation then
      return null;
    when sqlstate 'RS400' or data_exception then
      v_out := resonate._err(400, sqlerrm);
    when others then
      v_out := resonate._err(500, sqlerrm);
  end;
  return jsonb_strip_nulls(jsonb_build_object(
    'kind', v_kind,
    'head', jsonb_build_object('corrId', v_head -> 'corrId', 'status', v_out -> 'status', 'version', v_head -> 'version'),
    'data', v_out -> 'data'));
end
$$;

-- The head of a 200 answer to a request with this head, as resonate_rpc builds it (no JSON nulls).
create or replace function resonate._answer_head(p_head jsonb) returns jsonb
language sql immutable as $$
  select jsonb_strip_nulls(jsonb_build_object('corrId', p_head -> 'corrId', 'status', 200, 'version', p_head -> 'version'))
$$;

-- The fence of local steps written without their requests' envelopes, taken once per call: the task's
-- promise row, then the task row, locked in the global order (a new step has no row yet) and held until
-- commit, so what they show cannot change under the steps written after it. The deadline of the task's
-- promise if the task is acquired at this version and its promise pending; null otherwise, or under
-- debug time, where each request would take its own clock.
create or replace function resonate._step_fence(p_task text, p_version integer) returns bigint
language plpgsql as $$
declare
  v_root_state text;
  v_root_timeout bigint;
  v_fenced boolean;
begin
  if resonate._debug_enabled() then
    return null;
  end if;
  select state, timeout_at into v_root_state, v_root_timeout
    from resonate.promises where id = p_task for no key update;
  select t.state = 'acquired' and t.version = p_version into v_fenced
    from resonate.tasks t where t.id = p_task for no key update;
  if v_root_state is distinct from 'pending' or v_fenced is not true then
    return null;
  end if;
  return v_root_timeout;
end
$$;

-- Writes one local step's promise once, already settled (not inserted and then updated), under a
-- fence _step_fence took, and answers the time it was written (created and settled then). Null, and
-- nothing written, where the fast path does not apply and the general path must answer the step's two
-- requests: a result state the timer owns, a target, the task itself, a deadline passed, an existing
-- promise. A new promise has no task, callbacks or listeners, so settling it has no cascade. The one
-- writer of a step's settled promise: resonate_step and _steps_fused both write through it.
create or replace function resonate._step_put(
  p_task text, p_root_timeout bigint, p_id text, p_timeout_at bigint, p_param jsonb, p_tags jsonb,
  p_state text, p_value jsonb) returns bigint
language plpgsql as $$
declare
  v_tags jsonb := jsonb_strip_nulls(p_tags);
  v_now bigint := resonate._clock_ms();
begin
  if p_id = p_task
     or p_state not in ('resolved', 'rejected', 'rejected_canceled')
     or nullif(v_tags ->> 'resonate:target', '') is not null
     or v_now >= p_root_timeout or v_now >= p_timeout_at then
    return null;
  end if;
  insert into resonate.promises (id, state, param, value, tags, timeout_at, created_at, settled_at)
  values (p_id, p_state, jsonb_strip_nulls(p_param), jsonb_strip_nulls(p_value), v_tags, p_timeout_at, v_now, v_now)
  on conflict (id) do nothing;
  return case when found then v_now end;
end
$$;

-- Local steps' pairs in the adapter's compact form (functions/shared/store/step-pairs.ts), for a run of
-- pairs under one task: {"kind": "steps.fused", "id": task, "version": n, "steps": [[step id, timeoutAt,
-- param, tags, state, value], ...]}. Each step is written by _step_put under one fence, and the answer is
-- only the time each was written, from which the caller builds the two answers per step: parsing and
-- building every request's and answer's envelope cost most of a fan-in's call. It stops at the first
-- step the fast path would not take (a deadline passed, a target, an existing promise, a failed fence,
-- debug time), leaving that one and the rest unwritten for the caller to send again in full, where the
-- general path answers them.
create or replace function resonate._steps_fused(p_req jsonb) returns json
language plpgsql as $$
declare
  v_steps jsonb := p_req -> 'steps';
  v_step jsonb;
  v_root_timeout bigint;
  v_at bigint;
  v_written text[] := '{}'::text[];
begin
  if jsonb_typeof(p_req -> 'id') is distinct from 'string'
     or jsonb_typeof(v_steps) is distinct from 'array'
     or resonate._exact_version(p_req -> 'version') is null then
    return '[]'::json;
  end if;
  for k in 0 .. jsonb_array_length(v_steps) - 1 loop
    v_step := v_steps -> k;
    -- Only what the SDK sends for a local step; a timeoutAt out of bigint's range would fail its cast,
    -- which is the general path's to report.
    exit when jsonb_typeof(v_step) is distinct from 'array'
      or jsonb_array_length(v_step) <> 6
      or jsonb_typeof(v_step -> 0) is distinct from 'string'
      or jsonb_typeof(v_step -> 1) is distinct from 'number'
      or abs((v_step ->> 1)::numeric) >= 9e15
      or jsonb_typeof(v_step -> 2) is distinct from 'object'
      or jsonb_typeof(v_step -> 3) is distinct from 'object'
      or jsonb_typeof(v_step -> 4) is distinct from 'string'
      or jsonb_typeof(v_step -> 5) is distinct from 'object';
    if k = 0 then
      v_root_timeout := resonate._step_fence(p_req ->> 'id', resonate._exact_version(p_req -> 'version'));
      exit when v_root_timeout is null;
    end if;
    v_at := resonate._step_put(p_req ->> 'id', v_root_timeout, v_step ->> 0, floor((v_step ->> 1)::numeric)::bigint,
                               v_step -> 2, v_step -> 3, v_step ->> 4, v_step -> 5);
    exit when v_at is null;
    v_written := v_written || v_at::text;
  end loop;
  return ('[' || array_to_string(v_written, ',') || ']')::json;
end
$$;

-- One local step's create and result, as the adapter sends a lone sequential step: the fence, then the
-- step's promise written once, settled, by _step_put, with typed arguments instead of a JSON envelope
-- (cheaper than a resonate_batch call of the same step, which parses and builds JSON). The time
-- written, or null where the fast path declines (see _step_put and _step_fence): nothing is written,
-- and the caller sends the step's two requests as the SDK wrote them. A lock conflict raises, before
-- anything commits, for the caller to send it again.
create or replace function resonate.resonate_step(
  task text, version integer, id text, timeout_at bigint, param jsonb, tags jsonb, state text, value jsonb)
returns bigint
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
  v_root_timeout bigint := resonate._step_fence(task, version);
  v_at bigint;
begin
  if v_root_timeout is not null then
    v_at := resonate._step_put(task, v_root_timeout, id, timeout_at, param, tags, state, value);
  end if;
  -- Nothing written needs no flush (the fence's row locks only).
  if v_at is null then
    perform set_config('synchronous_commit', 'off', true);
  end if;
  return v_at;
end
$$;

-- The two requests of a local step sent together as the SDK wrote them (a fenced create of the step's
-- promise, then a fenced settle of it), as the adapter sends them again after _steps_fused declined
-- them and as any caller of resonate_batch may. The step is checked and written by _steps_fused, so
-- there is one fast path; both answers are exactly those the two requests get one after the other at
-- the same instant. Anything out of the ordinary for the fast path answers null, and the pair runs
-- request by request in the same transaction: the locks taken here are the general path's first ones
-- too, in the same order.
create or replace function resonate._step_fused(p_create jsonb, p_settle jsonb) returns json
language plpgsql as $$
declare
  v_ca jsonb := p_create -> 'data' -> 'action';
  v_sa jsonb := p_settle -> 'data' -> 'action';
  v_child jsonb := v_ca -> 'data' -> 'id';
  v_written json;
  v_now bigint;
  v_param jsonb;
  v_value jsonb;
  v_tags jsonb;
  v_timeout bigint;
begin
  -- Only the envelope the SDK sends for a local step: both requests fence the same task at the same
  -- version, the first creates the promise the second settles.
  if p_settle -> 'data' -> 'id' is distinct from p_create -> 'data' -> 'id'
     or p_settle -> 'data' -> 'version' is distinct from p_create -> 'data' -> 'version'
     or v_ca ->> 'kind' is distinct from 'promise.create'
     or v_sa ->> 'kind' is distinct from 'promise.settle'
     or v_sa -> 'data' -> 'id' is distinct from v_child then
    return null;
  end if;
  -- A missing field becomes a JSON null here, which _steps_fused declines.
  v_written := resonate._steps_fused(jsonb_build_object(
    'id', p_create -> 'data' -> 'id',
    'version', p_create -> 'data' -> 'version',
    'steps', jsonb_build_array(jsonb_build_array(v_child, v_ca -> 'data' -> 'timeoutAt', v_ca -> 'data' -> 'param',
      v_ca -> 'data' -> 'tags', v_sa -> 'data' -> 'state', v_sa -> 'data' -> 'value'))));
  if json_array_length(v_written) = 0 then
    return null;
  end if;
  -- The step as _steps_fused stored it.
  v_now := (v_written ->> 0)::bigint;
  v_param := jsonb_strip_nulls(v_ca -> 'data' -> 'param');
  v_value := jsonb_strip_nulls(v_sa -> 'data' -> 'value');
  v_tags := jsonb_strip_nulls(v_ca -> 'data' -> 'tags');
  v_timeout := floor((v_ca -> 'data' ->> 'timeoutAt')::numeric)::bigint;
  -- As resonate_rpc answers each fence: no JSON nulls, so a missing corrId or version is left out.
  -- Built as json text, not jsonb, which would copy the step's payload at every level of nesting.
  return json_build_array(
    json_build_object(
      'kind', 'task.fence',
      'head', resonate._answer_head(p_create -> 'head'),
      'data', json_build_object(
        'action', json_build_object(
          'kind', 'promise.create',
          'head', resonate._answer_head(v_ca -> 'head'),
          'data', json_build_object('promise', json_build_object('id', v_child #>> '{}', 'state', 'pending',
            'param', v_param, 'value', '{}'::json, 'tags', v_tags, 'timeoutAt', v_timeout, 'createdAt', v_now))),
        'preload', '[]'::json)),
    json_build_object(
      'kind', 'task.fence',
      'head', resonate._answer_head(p_settle -> 'head'),
      'data', json_build_object(
        'action', json_build_object(
          'kind', 'promise.settle',
          'head', resonate._answer_head(v_sa -> 'head'),
          'data', json_build_object('promise', json_build_object(
            'id', v_child #>> '{}', 'state', v_sa -> 'data' ->> 'state', 'param', v_param, 'value', v_value,
            'tags', v_tags, 'timeoutAt', v_timeout, 'createdAt', v_now, 'settledAt', v_now))),
        'preload', '[]'::json)));
end
$$;

-- Requests from one process that travel together: an array of units, each an array of requests that
-- run in order. Every request runs in its own subtransaction and is answered as if sent alone (a
-- failing one does not undo the others); the whole batch commits once. A unit stops at its first
-- lock conflict: that request and the rest of its unit answer null, uncommitted, for the caller to
-- send again, since a later request of a unit may depend on an earlier one (a step's start, then its
-- result). A local step's fused pair, and a run of them in compact form, runs without a subtransaction
-- of its own (one cost as much as the rest of the pair): it can fail only on a lock conflict, and then
-- the whole batch fails before committing anything, and the caller sends it all again.
create or replace function resonate.resonate_batch(units jsonb) returns json
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
  v_sync text := current_setting('synchronous_commit');
  v_durable boolean := false;
  v_unit jsonb;
  v_req jsonb;
  v_next jsonb;
  v_res jsonb;
  v_pair json;
  -- Answers as text, joined once at the end: appending to a jsonb array copies it every time.
  v_answers text[];
  v_out text[] := '{}'::text[];
  v_stopped boolean;
  v_n integer;
  i integer;
begin
  if jsonb_typeof(units) is distinct from 'array' then
    raise exception 'resonate_batch takes an array of arrays of requests';
  end if;
  -- Indexing into the jsonb arrays rather than unnesting them: no query per unit.
  for u in 0 .. jsonb_array_length(units) - 1 loop
    v_unit := units -> u;
    if jsonb_typeof(v_unit) is distinct from 'array' then
      raise exception 'resonate_batch takes an array of arrays of requests';
    end if;
    v_n := jsonb_array_length(v_unit);
    v_answers := '{}'::text[];
    v_stopped := false;
    i := 0;
    while i < v_n loop
      v_req := v_unit -> i;
      v_pair := null;
      -- A run of local steps' pairs in compact form: the times they were written, as many as were.
      -- Fewer than its steps stops the unit, as a conflict does; the caller sends the rest in full.
      if v_req ->> 'kind' = 'steps.fused' then
        if v_stopped then
          v_answers := v_answers || 'null'::text;
        else
          v_pair := resonate._steps_fused(v_req);
          v_answers := v_answers || v_pair::text;
          v_durable := v_durable or json_array_length(v_pair) > 0;
          v_stopped := json_array_length(v_pair)
            < case jsonb_typeof(v_req -> 'steps') when 'array' then jsonb_array_length(v_req -> 'steps') else 1 end;
        end if;
        i := i + 1;
        continue;
      end if;
      if not v_stopped and i + 1 < v_n and v_req #>> '{data,action,kind}' = 'promise.create' then
        v_next := v_unit -> (i + 1);
        if v_req ->> 'kind' = 'task.fence' and v_next ->> 'kind' = 'task.fence'
           and v_next #>> '{data,action,kind}' = 'promise.settle' then
          v_pair := resonate._step_fused(v_req, v_next);
        end if;
      end if;
      if v_pair is not null then
        -- The pair's two answers, without the brackets of their array.
        v_answers := v_answers || substr(v_pair::text, 2, length(v_pair::text) - 2);
        v_durable := true;
        i := i + 2;
        continue;
      end if;
      v_res := null;
      if not v_stopped then
        v_res := resonate._rpc_once(v_req);
        v_stopped := v_res is null;
        -- A request that only starts a local step turns synchronous_commit off for its transaction
        -- (see resonate._task_fence). The batch commits once, so it may skip the WAL flush only if
        -- every request in it could; each request starts from the session's setting.
        if current_setting('synchronous_commit') = 'off' and v_sync <> 'off' then
          perform set_config('synchronous_commit', v_sync, true);
        elsif not v_stopped then
          v_durable := true;
        end if;
      end if;
      v_answers := v_answers || coalesce(v_res::text, 'null');
      i := i + 1;
    end loop;
    v_out := v_out || ('[' || array_to_string(v_answers, ',') || ']');
  end loop;
  if not v_durable then
    perform set_config('synchronous_commit', 'off', true);
  end if;
  return ('[' || array_to_string(v_out, ',') || ']')::json;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Worker liveness. A worker registers from one long-lived session and takes a session-level advisory
-- lock there; the lock is released by Postgres the moment that session ends (the process killed, its
-- connection cut), so a peer that can take it knows the worker is gone without waiting out a lease.
-- A worker that is merely slow or stalled keeps its session and its lock, and keeps its tasks.
-- Fencing is unchanged: a released task's holder, should it be alive after all, is refused by
-- version exactly as after a lease expiry.
-- ---------------------------------------------------------------------------------------------

-- The first key of the two-integer advisory lock space this schema uses ('reso').
create or replace function resonate._worker_lock_ns() returns integer
language sql immutable as $$ select 1919251311 $$;

-- Releases acquired tasks as a lease expiry does (pending, version kept, retry timer armed, execute
-- sent to the target) and returns their ids. A task whose row someone else has locked is left for a
-- later call: that someone is changing it right now. Promise rows are not locked, as in the timer
-- loop's lease expiry, and SKIP LOCKED never waits, so this cannot deadlock. Only while still held by
-- p_pid: p_ids were read before the rows are locked, and meanwhile a task may have gone back to the
-- group and been acquired by a live worker, which a lock taken on the newest row would not notice.
create or replace function resonate._release_tasks(p_pid text, p_ids text[], p_now bigint) returns text[]
language plpgsql as $$
declare
  r record;
  v_released text[] := '{}'::text[];
begin
  for r in
    select t.id, t.version, resonate._target(p.tags) as target
      from resonate.tasks t join resonate.promises p on p.id = t.id
     where t.id = any (p_ids) and t.state = 'acquired' and t.pid = p_pid and resonate._logically_pending(p, p_now)
     order by t.id
     for no key update of t skip locked
  loop
    update resonate.tasks
       set state = 'pending', pid = null, ttl = null, timer_kind = 0, timer_at = p_now + resonate._retry_ms()
     where id = r.id;
    if r.target is not null then
      perform resonate._emit_execute(r.id, r.version, r.target);
    end if;
    v_released := v_released || r.id;
  end loop;
  return v_released;
end
$$;

-- Called once per (re)connection on the worker's long-lived session, which it also makes LISTEN on the
-- worker's two addresses. Tasks held under this id that the caller is not running (`keep`: the tasks
-- it is running or acquiring) belong to a dead predecessor with the same id, or to executions that
-- failed while the database was away; they are released so the group resumes them at once. Returns
-- the released ids.
create or replace function resonate.worker_register(pid text, anycast text, unicast text, keep text[]) returns text[]
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
  v_key integer;
  v_now bigint := resonate._clock_ms();
begin
  -- Session-level, taken before the row names the key: a peer that reads the new key finds it held.
  -- A key still held by a live session (possible only once the sequence has wrapped) is skipped.
  loop
    v_key := nextval('resonate.worker_lock_keys');
    exit when pg_try_advisory_lock(resonate._worker_lock_ns(), v_key);
  end loop;
  insert into resonate.workers (pid, anycast, lock_key, registered_at) values ($1, $2, v_key, v_now)
  on conflict on constraint workers_pkey do update
    set anycast = excluded.anycast, lock_key = excluded.lock_key, registered_at = excluded.registered_at;
  -- Takes effect when this transaction commits, like any LISTEN.
  execute format('listen %I', resonate.outbox_channel(anycast));
  execute format('listen %I', resonate.outbox_channel(unicast));
  return resonate._release_tasks($1, array(
    select t.id from resonate.tasks t
     where t.pid = $1 and t.state = 'acquired' and not (t.id = any (coalesce(keep, '{}')))), v_now);
end
$$;

-- Releases the tasks of the caller's group's registered workers whose session is gone, and forgets a
-- dead worker once it holds nothing. p_self is skipped: advisory locks are re-entrant, so the
-- caller's own session would always get its own lock. Returns how many tasks were released.
create or replace function resonate._release_dead_workers(p_self text, p_anycast text, p_now bigint) returns integer
language plpgsql as $$
declare
  r record;
  v_key integer;
  v_released integer := 0;
begin
  for r in select w.pid, w.lock_key from resonate.workers w where w.anycast = p_anycast and w.pid <> p_self order by w.pid loop
    -- Held by a live session: the worker is alive. The transaction-level lock taken on success is
    -- released at commit; nobody else ever waits on a dead worker's key.
    continue when not pg_try_advisory_xact_lock(resonate._worker_lock_ns(), r.lock_key);
    -- A re-registration may have replaced the key since the read above; under the row lock it cannot.
    select w.lock_key into v_key from resonate.workers w where w.pid = r.pid for no key update skip locked;
    continue when not found or v_key <> r.lock_key;
    v_released := v_released + cardinality(resonate._release_tasks(r.pid, array(
      select t.id from resonate.tasks t where t.pid = r.pid and t.state = 'acquired'), p_now));
    delete from resonate.workers w
     where w.pid = r.pid
       and not exists (select 1 from resonate.tasks t where t.pid = r.pid and t.state = 'acquired');
  end loop;
  return v_released;
end
$$;

-- Dequeues up to p_limit execute messages for an address (destructively, SKIP LOCKED, in order, as
-- dequeue_execute does) and brings each still-pending task's retry timer forward to p_until: if the
-- claiming worker dies before acquiring, the task is offered again then instead of after the 30 s
-- retry interval. A task row locked by someone else is being changed right now and keeps its timer.
create or replace function resonate._claim_executes(p_address text, p_limit integer, p_until bigint)
returns table (task_id text, version integer)
language sql volatile as $$
  with picked as (
    select o.seq from resonate.outbox o
     where o.address = p_address and o.kind = 'execute'
     order by o.seq
     limit greatest(p_limit, 0)
     for update skip locked
  ), gone as (
    delete from resonate.outbox o using picked where o.seq = picked.seq
    returning o.seq, o.task_id, o.version
  ), waiting as (
    select t.id from resonate.tasks t join gone on gone.task_id = t.id
     where t.state = 'pending' and t.version = gone.version and t.timer_kind = 0 and t.timer_at > p_until
     for no key update of t skip locked
  ), armed as (
    update resonate.tasks t set timer_at = p_until from waiting where t.id = waiting.id returning t.id
  )
  -- `armed` runs although nothing reads it: a data-modifying WITH always runs to completion.
  select gone.task_id::text, gone.version from gone order by gone.seq
$$;

-- One delivery tick of a worker, in one round trip: the timer loop, the release of dead workers'
-- tasks, then up to `executes` execute messages (anycast first, then unicast) and this process's
-- unblock messages. Everything it writes can be redone after a crash (a lost claim is re-offered by
-- its timer, a lost timer pass runs again), so it commits without waiting for the WAL flush.
create or replace function resonate.worker_tick(pid text, anycast text, unicast text, executes integer, claim_ms integer)
returns table (kind text, task_id text, version integer, promise jsonb)
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
  v_now bigint;
  v_left integer := greatest(executes, 0);
  v_address text;
  r record;
begin
  perform set_config('synchronous_commit', 'off', true);
  perform resonate.process_timeouts();
  v_now := resonate._clock_ms();
  perform resonate._release_dead_workers(worker_tick.pid, anycast, v_now);
  foreach v_address in array array[anycast, unicast] loop
    for r in select * from resonate._claim_executes(v_address, v_left, v_now + greatest(claim_ms, 0)) c loop
      kind := 'execute';
      task_id := r.task_id;
      version := r.version;
      promise := null;
      v_left := v_left - 1;
      return next;
    end loop;
  end loop;
  return query select 'unblock'::text, null::text, null::integer, u.promise from resonate.dequeue_unblock(unicast, 1000) u;
end
$$;

-- The tasks the store shows held under a worker id, for that worker's sweep of what it holds but no
-- longer runs.
create or replace function resonate.held_tasks(pid text) returns table (id text, version integer)
language sql stable security definer set search_path = pg_catalog, pg_temp as $$
  select t.id::text, t.version from resonate.tasks t where t.pid = held_tasks.pid and t.state = 'acquired'
$$;
