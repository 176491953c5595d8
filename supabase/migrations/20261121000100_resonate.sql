-- The Resonate durable-promise store, driven by the SDK's PostgresNetwork (@resonatehq/sdk/postgres).
--
-- Contract: ../../shared/resonate-protocol.md (wire version 2026-04-01, SDK 0.11.5). Reference semantics:
-- the SDK's in-memory Server (dist/src/network/local.js). Deliberate choices, each explained where it
-- is implemented:
--   * Timeout convergence mode "eager": before a request runs, every promise id it touches that is
--     past its deadline is settled (with its cascade) in the same transaction, exactly like the
--     reference's default timeoutMode. Responses therefore always show the logical state.
--   * Every pending promise has its timeout armed (the reference arms only promises with a target),
--     so a suspended awaiter of a target-less promise (ctx.promise(), local children) is never
--     stranded past the deadline.
--   * Pending-task retry interval: 30000 ms, the reference's PENDING_RETRY_TTL.
--   * Cron is evaluated in UTC (the reference uses the process time zone; run it with TZ=UTC).
--   * `now` is the database clock; head["resonate:debug_time"] is honoured only in a session that
--     ran `set resonate.debug_time = on`, so production clients cannot move time.
--
-- Locking: one global order, promise rows (sorted by id, bytewise) before task rows. Every request
-- that may write locks the promise ids it touches up front; the cascade of a settlement then locks
-- the affected task rows in id order. Suspend and settle both hold the awaited promise's row lock
-- while they read/write callbacks, which is what makes a lost wake-up impossible. Residual
-- deadlocks (two cascades meeting on task rows) are retried inside resonate_rpc.

create schema if not exists resonate;

-- ---------------------------------------------------------------------------------------------
-- Tables. Ids are collate "C" so that lock order is bytewise-stable and `id >= 'root:' and
-- id < 'root;'` is an index range scan for whole workflow trees.
-- ---------------------------------------------------------------------------------------------

create table if not exists resonate.promises (
  id         text collate "C" primary key,
  state      text not null check (state in ('pending', 'resolved', 'rejected', 'rejected_canceled', 'rejected_timedout')),
  param      jsonb not null default '{}',
  value      jsonb not null default '{}',
  tags       jsonb not null default '{}',
  timeout_at bigint not null,
  created_at bigint not null,
  settled_at bigint,
  check ((state = 'pending') = (settled_at is null))
);
-- The timer loop's scan: every pending promise is armed, so "armed" is just "pending".
create index if not exists promises_due on resonate.promises (timeout_at) where state = 'pending';
-- preload groups promises by branch.
create index if not exists promises_branch on resonate.promises ((tags ->> 'resonate:branch'))
  where tags ? 'resonate:branch';

create table if not exists resonate.tasks (
  id         text collate "C" primary key references resonate.promises (id) on delete cascade,
  state      text not null check (state in ('pending', 'acquired', 'suspended', 'halted', 'fulfilled')),
  version    integer not null default 0,
  pid        text,
  ttl        bigint,
  resumes    text[] collate "C" not null default '{}',
  -- A task has at most one timer (as in the reference): 0 = pending retry, 1 = lease.
  timer_kind smallint check (timer_kind in (0, 1)),
  timer_at   bigint,
  check ((timer_kind is null) = (timer_at is null))
);
create index if not exists tasks_due on resonate.tasks (timer_at) where timer_at is not null;

create table if not exists resonate.callbacks (
  awaited text collate "C" not null references resonate.promises (id) on delete cascade,
  awaiter text collate "C" not null references resonate.promises (id) on delete cascade,
  primary key (awaited, awaiter)
);
-- Fulfilling a task drops every callback where it is the awaiter.
create index if not exists callbacks_awaiter on resonate.callbacks (awaiter);

create table if not exists resonate.listeners (
  awaited text collate "C" not null references resonate.promises (id) on delete cascade,
  address text not null,
  primary key (awaited, address)
);

create table if not exists resonate.schedules (
  id              text collate "C" primary key,
  cron            text not null,
  promise_id      text not null,
  promise_timeout bigint not null,
  promise_param   jsonb not null default '{}',
  promise_tags    jsonb not null default '{}',
  created_at      bigint not null,
  next_run_at     bigint not null,
  last_run_at     bigint
);
create index if not exists schedules_due on resonate.schedules (next_run_at);

create table if not exists resonate.outbox (
  seq        bigserial primary key,
  kind       text not null check (kind in ('execute', 'unblock')),
  address    text not null,
  task_id    text collate "C",
  version    integer,
  promise_id text collate "C",
  promise    jsonb,
  created_at timestamptz not null default now(),
  check ((kind = 'execute') = (task_id is not null and version is not null)),
  check ((kind = 'unblock') = (promise_id is not null and promise is not null))
);
-- At most one outstanding execute per task (latest address and version win), one unblock per
-- (promise, address): duplicates would only produce 409s on the worker.
create unique index if not exists outbox_execute_task on resonate.outbox (task_id) where kind = 'execute';
create unique index if not exists outbox_unblock_key on resonate.outbox (promise_id, address) where kind = 'unblock';
create index if not exists outbox_address on resonate.outbox (address, kind, seq);
create index if not exists outbox_created on resonate.outbox (created_at);

-- ---------------------------------------------------------------------------------------------
-- Small helpers
-- ---------------------------------------------------------------------------------------------

create or replace function resonate._retry_ms() returns bigint
language sql immutable as $$ select 30000::bigint $$;

create or replace function resonate._clock_ms() returns bigint
language sql volatile as $$ select floor(extract(epoch from clock_timestamp()) * 1000)::bigint $$;

-- Raised for malformed input; resonate_rpc turns it into a 400.
create or replace function resonate._bad(p_message text) returns void
language plpgsql as $$
begin
  raise exception using errcode = 'RS400', message = p_message;
end
$$;

create or replace function resonate._txt(p_obj jsonb, p_key text) returns text
language plpgsql immutable as $$
begin
  if jsonb_typeof(p_obj -> p_key) is distinct from 'string' then
    perform resonate._bad(format('%s must be a string', p_key));
  end if;
  return p_obj ->> p_key;
end
$$;

create or replace function resonate._i64(p_obj jsonb, p_key text) returns bigint
language plpgsql immutable as $$
begin
  if jsonb_typeof(p_obj -> p_key) is distinct from 'number' then
    perform resonate._bad(format('%s must be a number', p_key));
  end if;
  return floor((p_obj ->> p_key)::numeric)::bigint;
end
$$;

create or replace function resonate._obj(p_obj jsonb, p_key text) returns jsonb
language plpgsql immutable as $$
begin
  if p_obj -> p_key is null or jsonb_typeof(p_obj -> p_key) = 'null' then
    return '{}';
  end if;
  if jsonb_typeof(p_obj -> p_key) <> 'object' then
    perform resonate._bad(format('%s must be an object', p_key));
  end if;
  return jsonb_strip_nulls(p_obj -> p_key);
end
$$;

create or replace function resonate._arr(p_obj jsonb, p_key text) returns jsonb
language plpgsql immutable as $$
begin
  if jsonb_typeof(p_obj -> p_key) is distinct from 'array' then
    perform resonate._bad(format('%s must be an array', p_key));
  end if;
  return p_obj -> p_key;
end
$$;

-- The reference tests the target for truthiness, so an empty string means "no target".
create or replace function resonate._target(p_tags jsonb) returns text
language sql immutable as $$ select nullif(p_tags ->> 'resonate:target', '') $$;

create or replace function resonate._timeout_state(p_tags jsonb) returns text
language sql immutable as $$
  select case when p_tags ->> 'resonate:timer' = 'true' then 'resolved' else 'rejected_timedout' end
$$;

-- register_listener's notion of awaitable, identical to the reference's isExternalPromise (scope
-- global counts, which is what keeps ctx.promise() awaitable).
create or replace function resonate._is_external(p_tags jsonb) returns boolean
language sql immutable as $$
  select coalesce(p_tags ->> 'resonate:scope' = 'global', false)
      or coalesce(p_tags ->> 'resonate:external' = 'true', false)
      or p_tags ? 'resonate:target'
      or coalesce(p_tags ->> 'resonate:timer' = 'true', false)
$$;

-- Number(x) as the reference reads resonate:delay: anything unparsable or infinite is ignored.
create or replace function resonate._num_or_null(p_text text) returns numeric
language plpgsql immutable as $$
declare
  v numeric;
begin
  if p_text is null then
    return null;
  end if;
  begin
    v := trim(p_text)::numeric;
  exception when others then
    return null;
  end;
  if v = 'NaN'::numeric or v >= 9e15 or v <= -9e15 then
    return null;
  end if;
  return v;
end
$$;

-- The JSON builders below are STABLE, not IMMUTABLE, because jsonb_build_object is stable: only then
-- does the planner inline them into the calling statement (whose plan PL/pgSQL caches) instead of
-- planning their body on every call, which dominated a request's cost.
create or replace function resonate._ok(p_status integer, p_data jsonb) returns jsonb
language sql stable as $$ select jsonb_build_object('status', p_status, 'data', p_data) $$;

create or replace function resonate._err(p_status integer, p_message text) returns jsonb
language sql stable as $$ select jsonb_build_object('status', p_status, 'data', to_jsonb(p_message)) $$;

create or replace function resonate._valid_settle_state(p_state text) returns boolean
language sql immutable as $$ select p_state in ('resolved', 'rejected', 'rejected_canceled') $$;

-- ---------------------------------------------------------------------------------------------
-- Records as the SDK sees them. p_now projects the logical state (pending past its deadline reads
-- as timed out with settledAt = timeoutAt); a null p_now gives the physical row (debug.snap).
-- ---------------------------------------------------------------------------------------------

create or replace function resonate._logically_pending(p resonate.promises, p_now bigint) returns boolean
language sql immutable as $$ select p.state = 'pending' and (p_now is null or p_now < p.timeout_at) $$;

create or replace function resonate._promise_json(p resonate.promises, p_now bigint) returns jsonb
language sql stable as $$
  select jsonb_build_object(
           'id', p.id,
           'state', case when p.state = 'pending' and p_now >= p.timeout_at
                         then resonate._timeout_state(p.tags) else p.state end,
           'param', p.param,
           'value', p.value,
           'tags', p.tags,
           'timeoutAt', p.timeout_at,
           'createdAt', p.created_at)
      || case when p.state <> 'pending' then jsonb_build_object('settledAt', p.settled_at)
              when p_now >= p.timeout_at then jsonb_build_object('settledAt', p.timeout_at)
              else '{}'::jsonb end
$$;

create or replace function resonate._task_json(t resonate.tasks, p_promise_settled boolean) returns jsonb
language sql stable as $$
  select jsonb_build_object(
           'id', t.id,
           'state', case when p_promise_settled then 'fulfilled' else t.state end,
           'version', t.version,
           'resumes', to_jsonb(t.resumes))
      || case when t.state = 'acquired' and not p_promise_settled
              then jsonb_strip_nulls(jsonb_build_object('pid', t.pid, 'ttl', t.ttl))
              else '{}'::jsonb end
$$;

-- A task is logically fulfilled whenever its promise is logically settled.
create or replace function resonate._task_view(p_id text, p_now bigint) returns jsonb
language sql stable as $$
  select resonate._task_json(t, not resonate._logically_pending(p, p_now))
  from resonate.tasks t join resonate.promises p on p.id = t.id
  where t.id = p_id
$$;

create or replace function resonate._schedule_json(s resonate.schedules) returns jsonb
language sql stable as $$
  select jsonb_build_object(
           'id', s.id, 'cron', s.cron, 'promiseId', s.promise_id, 'promiseTimeout', s.promise_timeout,
           'promiseParam', s.promise_param, 'promiseTags', s.promise_tags, 'createdAt', s.created_at,
           'nextRunAt', s.next_run_at)
      || case when s.last_run_at is null then '{}'::jsonb else jsonb_build_object('lastRunAt', s.last_run_at) end
$$;

-- preload is only a cache for the SDK, but it saves one fenced round trip per replayed child.
create or replace function resonate._preload(p_id text, p_now bigint) returns jsonb
language sql stable as $$
  select coalesce(jsonb_agg(resonate._promise_json(q, p_now) order by q.id), '[]'::jsonb)
  from resonate.promises p
  join resonate.promises q
    on p.tags ? 'resonate:branch'
   and q.tags ? 'resonate:branch'
   and q.tags ->> 'resonate:branch' = p.tags ->> 'resonate:branch'
   and q.id <> p.id
  where p.id = p_id
$$;

-- ---------------------------------------------------------------------------------------------
-- Outbox. Every write NOTIFYs in the same transaction, so a listener never wakes before the row
-- is visible, and a rolled-back write never wakes anyone.
-- ---------------------------------------------------------------------------------------------

-- LISTEN truncates identifiers to 63 bytes while pg_notify rejects them, so raw addresses cannot
-- be channel names; a hash is short, fixed-length and quote-free.
create or replace function resonate.outbox_channel(address text) returns text
language sql immutable strict as $$ select 'resonate_q_' || md5($1) $$;

create or replace function resonate._emit_execute(p_task_id text, p_version integer, p_address text) returns void
language plpgsql as $$
begin
  -- PostgresNetwork listens on poll://any@<group> (no pid) and dequeues by exact address, so an
  -- anycast target that names a pid would never be consumed: deliver it to the group instead.
  p_address := regexp_replace(p_address, '^(poll://any@[^/]+)/.*$', '\1');
  insert into resonate.outbox (kind, address, task_id, version)
  values ('execute', p_address, p_task_id, p_version)
  on conflict (task_id) where kind = 'execute'
  do update set address = excluded.address, version = excluded.version, created_at = now();
  perform pg_notify(resonate.outbox_channel(p_address), '');
end
$$;

create or replace function resonate._emit_unblock(p_promise jsonb, p_address text) returns void
language plpgsql as $$
begin
  insert into resonate.outbox (kind, address, promise_id, promise)
  values ('unblock', p_address, p_promise ->> 'id', p_promise)
  on conflict (promise_id, address) where kind = 'unblock'
  do update set promise = excluded.promise, created_at = now();
  perform pg_notify(resonate.outbox_channel(p_address), '');
end
$$;

create or replace function resonate.dequeue_execute(address text, "limit" integer)
returns table (task_id text, version integer)
language sql volatile security definer set search_path = pg_catalog, pg_temp as $$
  with picked as (
    select o.seq from resonate.outbox o
    where o.address = $1 and o.kind = 'execute'
    order by o.seq
    limit greatest($2, 0)
    for update skip locked
  ), gone as (
    delete from resonate.outbox o using picked where o.seq = picked.seq
    returning o.seq, o.task_id, o.version
  )
  select gone.task_id::text, gone.version from gone order by gone.seq
$$;

create or replace function resonate.dequeue_unblock(address text, "limit" integer)
returns table (promise jsonb)
language sql volatile security definer set search_path = pg_catalog, pg_temp as $$
  with picked as (
    select o.seq from resonate.outbox o
    where o.address = $1 and o.kind = 'unblock'
    order by o.seq
    limit greatest($2, 0)
    for update skip locked
  ), gone as (
    delete from resonate.outbox o using picked where o.seq = picked.seq
    returning o.seq, o.promise
  )
  select gone.promise from gone order by gone.seq
$$;

-- ---------------------------------------------------------------------------------------------
-- Locking and settlement
-- ---------------------------------------------------------------------------------------------

-- The first step of every writing request: the promise rows it touches, in the global order.
-- PL/pgSQL rather than SQL: a SQL function that cannot be inlined is planned on every call, and
-- this runs on every request; PL/pgSQL keeps the plan.
create or replace function resonate._lock_promises(p_ids text[]) returns void
language plpgsql as $$
begin
  perform 1 from resonate.promises where id = any (p_ids) order by id for no key update;
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
  v_version integer := resonate._i64(p_data, 'version');
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
  if v_t.version <> v_version then
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
  v_version integer := resonate._i64(p_data, 'version');
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
  if o_task.version <> v_version then
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
    select e ->> 'id' as id, (e ->> 'version')::numeric::integer as version
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
-- Cron (UTC). Fields: [seconds] minutes hours day-of-month month day-of-week, with lists, ranges,
-- steps, month/weekday names and @aliases; day-of-month and day-of-week are OR-ed when both are
-- restricted (cron-parser's rule: a field is unrestricted only when written as * or ?).
-- ---------------------------------------------------------------------------------------------

create or replace function resonate._cron_field(p_field text, p_lo integer, p_hi integer, p_names text[]) returns integer[]
language plpgsql immutable as $$
declare
  v_part text;
  v_range text;
  v_step integer;
  v_from integer;
  v_to integer;
  v_out integer[] := '{}';
  v_bits text[];
begin
  foreach v_part in array string_to_array(lower(p_field), ',') loop
    v_bits := string_to_array(v_part, '/');
    if array_length(v_bits, 1) > 2 or v_part = '' then
      perform resonate._bad('Invalid cron expression');
    end if;
    v_range := v_bits[1];
    v_step := case when array_length(v_bits, 1) = 2 then resonate._cron_atom(v_bits[2], null) else 1 end;
    if v_step is null or v_step < 1 then
      perform resonate._bad('Invalid cron expression');
    end if;
    if v_range in ('*', '?') then
      v_from := p_lo;
      v_to := p_hi;
    elsif position('-' in v_range) > 0 then
      v_from := resonate._cron_atom(split_part(v_range, '-', 1), p_names, p_lo);
      v_to := resonate._cron_atom(split_part(v_range, '-', 2), p_names, p_lo);
      if split_part(v_range, '-', 3) <> '' then
        perform resonate._bad('Invalid cron expression');
      end if;
    else
      v_from := resonate._cron_atom(v_range, p_names, p_lo);
      v_to := case when array_length(v_bits, 1) = 2 then p_hi else v_from end;
    end if;
    if v_from is null or v_to is null or v_from < p_lo or v_to > p_hi or v_from > v_to then
      perform resonate._bad('Invalid cron expression');
    end if;
    v_out := v_out || array(select generate_series(v_from, v_to, v_step));
  end loop;
  return array(select distinct x from unnest(v_out) x order by x);
end
$$;

create or replace function resonate._cron_atom(p_atom text, p_names text[], p_base integer default 0) returns integer
language plpgsql immutable as $$
declare
  v_idx integer;
begin
  if p_atom ~ '^[0-9]{1,4}$' then
    return p_atom::integer;
  end if;
  v_idx := array_position(p_names, p_atom);
  if v_idx is null then
    perform resonate._bad('Invalid cron expression');
  end if;
  return v_idx - 1 + p_base;
end
$$;

create or replace function resonate._cron_next(p_expr text, p_after bigint) returns bigint
language plpgsql immutable as $$
declare
  v_expr text := lower(trim(p_expr));
  v_f text[];
  v_sec integer[];
  v_min integer[];
  v_hour integer[];
  v_dom integer[];
  v_mon integer[];
  v_dow integer[];
  v_dom_any boolean;
  v_dow_any boolean;
  v_t timestamp;
  v_next integer;
  v_day_ok boolean;
begin
  v_expr := case v_expr
    when '@yearly' then '0 0 0 1 1 *' when '@annually' then '0 0 0 1 1 *'
    when '@monthly' then '0 0 0 1 * *' when '@weekly' then '0 0 0 * * 0'
    when '@daily' then '0 0 0 * * *' when '@hourly' then '0 0 * * * *'
    when '@minutely' then '0 * * * * *' when '@secondly' then '* * * * * *'
    when '@weekdays' then '0 0 0 * * 1-5' when '@weekends' then '0 0 0 * * 0,6'
    else v_expr end;
  v_f := regexp_split_to_array(v_expr, '\s+');
  if array_length(v_f, 1) = 5 then
    v_f := array['0'] || v_f;
  elsif array_length(v_f, 1) is distinct from 6 then
    perform resonate._bad('Invalid cron expression');
  end if;
  v_sec := resonate._cron_field(v_f[1], 0, 59, null);
  v_min := resonate._cron_field(v_f[2], 0, 59, null);
  v_hour := resonate._cron_field(v_f[3], 0, 23, null);
  v_dom := resonate._cron_field(v_f[4], 1, 31, null);
  v_mon := resonate._cron_field(v_f[5], 1, 12, array['jan','feb','mar','apr','may','jun','jul','aug','sep','oct','nov','dec']);
  v_dow := resonate._cron_field(v_f[6], 0, 7, array['sun','mon','tue','wed','thu','fri','sat']);
  v_dow := array(select distinct case when x = 7 then 0 else x end from unnest(v_dow) x);
  v_dom_any := v_f[4] in ('*', '?');
  v_dow_any := v_f[6] in ('*', '?');

  -- Strictly after p_after, at whole seconds.
  v_t := to_timestamp(floor(p_after / 1000.0) + 1) at time zone 'UTC';
  for i in 1..20000 loop
    if not extract(month from v_t)::integer = any (v_mon) then
      v_t := date_trunc('month', v_t) + interval '1 month';
      continue;
    end if;
    v_day_ok := case
      when v_dom_any and v_dow_any then true
      when v_dom_any then extract(dow from v_t)::integer = any (v_dow)
      when v_dow_any then extract(day from v_t)::integer = any (v_dom)
      else extract(day from v_t)::integer = any (v_dom) or extract(dow from v_t)::integer = any (v_dow)
    end;
    if not v_day_ok then
      v_t := date_trunc('day', v_t) + interval '1 day';
      continue;
    end if;
    select min(x) into v_next from unnest(v_hour) x where x >= extract(hour from v_t)::integer;
    if v_next is null then
      v_t := date_trunc('day', v_t) + interval '1 day';
      continue;
    elsif v_next <> extract(hour from v_t)::integer then
      v_t := date_trunc('hour', v_t) + make_interval(hours => v_next - extract(hour from v_t)::integer);
      continue;
    end if;
    select min(x) into v_next from unnest(v_min) x where x >= extract(minute from v_t)::integer;
    if v_next is null then
      v_t := date_trunc('hour', v_t) + interval '1 hour';
      continue;
    elsif v_next <> extract(minute from v_t)::integer then
      v_t := date_trunc('minute', v_t) + make_interval(mins => v_next - extract(minute from v_t)::integer);
      continue;
    end if;
    select min(x) into v_next from unnest(v_sec) x where x >= floor(extract(second from v_t))::integer;
    if v_next is null then
      v_t := date_trunc('minute', v_t) + interval '1 minute';
      continue;
    elsif v_next <> floor(extract(second from v_t))::integer then
      v_t := date_trunc('second', v_t) + make_interval(secs => v_next - floor(extract(second from v_t))::integer);
      continue;
    end if;
    return (extract(epoch from (v_t at time zone 'UTC')) * 1000)::bigint;
  end loop;
  perform resonate._bad('Invalid cron expression');
  return null;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Schedules
-- ---------------------------------------------------------------------------------------------

create or replace function resonate._schedule_create(p_data jsonb, p_now bigint) returns jsonb
language plpgsql as $$
declare
  v_tags jsonb := resonate._obj(p_data, 'promiseTags');
  v_id text := resonate._txt(p_data, 'id');
  v_s resonate.schedules;
  v_next bigint;
begin
  -- Every fired promise needs a routing target; checked before existence, as the reference does.
  if not v_tags ? 'resonate:target' then
    return resonate._err(400, 'promiseTags must include a resonate:target tag');
  end if;
  select * into v_s from resonate.schedules where id = v_id;
  if found then
    return resonate._ok(200, jsonb_build_object('schedule', resonate._schedule_json(v_s)));
  end if;
  v_next := resonate._cron_next(resonate._txt(p_data, 'cron'), p_now);
  insert into resonate.schedules (id, cron, promise_id, promise_timeout, promise_param, promise_tags, created_at, next_run_at)
  values (v_id, p_data ->> 'cron', resonate._txt(p_data, 'promiseId'), resonate._i64(p_data, 'promiseTimeout'),
          resonate._obj(p_data, 'promiseParam'), v_tags, p_now, v_next)
  on conflict (id) do nothing
  returning * into v_s;
  if not found then
    select * into v_s from resonate.schedules where id = v_id;
  end if;
  return resonate._ok(200, jsonb_build_object('schedule', resonate._schedule_json(v_s)));
end
$$;

create or replace function resonate._schedule_get(p_data jsonb) returns jsonb
language plpgsql as $$
declare
  v_s resonate.schedules;
begin
  select * into v_s from resonate.schedules where id = resonate._txt(p_data, 'id');
  if not found then
    return resonate._err(404, 'Schedule not found');
  end if;
  return resonate._ok(200, jsonb_build_object('schedule', resonate._schedule_json(v_s)));
end
$$;

create or replace function resonate._schedule_delete(p_data jsonb) returns jsonb
language plpgsql as $$
begin
  delete from resonate.schedules where id = resonate._txt(p_data, 'id');
  if not found then
    return resonate._err(404, 'Schedule not found');
  end if;
  return resonate._ok(200, '{}'::jsonb);
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Timer loop. Concurrent callers (every worker every ~250 ms, plus pg_cron) split the due rows
-- with SKIP LOCKED; a row locked by a request is converged by that request. Each batch is bounded
-- so one pass stays short under a backlog; the next pass continues.
-- ---------------------------------------------------------------------------------------------

create or replace function resonate._tick(p_now bigint) returns integer
language plpgsql as $$
declare
  v_ids text[];
  v_count integer := 0;
  r record;
  v_pid text;
begin
  -- 1. Expired promises, settled as one batch (settledAt = timeoutAt, value stays empty).
  with due as (
    select id from resonate.promises
     where state = 'pending' and timeout_at <= p_now
     order by id
     limit 1000
     for no key update skip locked
  ), settled as (
    update resonate.promises p
       set state = resonate._timeout_state(p.tags), settled_at = p.timeout_at
      from due where p.id = due.id
    returning p.id
  )
  select coalesce(array_agg(id order by id), '{}') into v_ids from settled;
  if cardinality(v_ids) > 0 then
    perform resonate._settle_cascade(v_ids, p_now);
    v_count := v_count + cardinality(v_ids);
  end if;

  -- 2. Task timers. A task whose promise is logically settled but still locked by someone else is
  --    left alone: that holder converges it, and re-dispatching it would only cost a 409.
  for r in
    select t.id, t.state, t.timer_kind, t.version, resonate._target(p.tags) as target,
           resonate._logically_pending(p, p_now) as live
      from resonate.tasks t join resonate.promises p on p.id = t.id
     where t.timer_at <= p_now
     order by t.id
     limit 1000
     for no key update of t skip locked
  loop
    if not r.live then
      continue;
    elsif r.timer_kind = 1 and r.state = 'acquired' then
      update resonate.tasks
         set state = 'pending', pid = null, ttl = null, timer_kind = 0, timer_at = p_now + resonate._retry_ms()
       where id = r.id;
    elsif r.timer_kind = 0 and r.state = 'pending' then
      update resonate.tasks set timer_at = p_now + resonate._retry_ms() where id = r.id;
    else
      -- A timer that no longer matches the state would be rescanned forever.
      update resonate.tasks set timer_kind = null, timer_at = null where id = r.id;
      continue;
    end if;
    if r.target is not null then
      perform resonate._emit_execute(r.id, r.version, r.target);
    end if;
    v_count := v_count + 1;
  end loop;

  -- 3. Schedules: one slot per schedule per pass; missed slots are fired on later passes because
  --    nextRunAt advances from the slot, not from now.
  for r in
    select * from resonate.schedules
     where next_run_at <= p_now
     order by id
     limit 100
     for no key update skip locked
  loop
    v_pid := replace(replace(r.promise_id, '{{.id}}', r.id), '{{.timestamp}}', r.next_run_at::text);
    -- Plain promise.create semantics (idempotent by id); createdAt is the processing time, as in
    -- the reference, so a late pass may create the promise already timed out.
    perform resonate._promise_create(jsonb_build_object(
      'id', v_pid,
      'timeoutAt', r.next_run_at + r.promise_timeout,
      'param', r.promise_param,
      'tags', r.promise_tags || jsonb_build_object('resonate:schedule', r.id)), p_now);
    update resonate.schedules
       set last_run_at = next_run_at, next_run_at = resonate._cron_next(cron, next_run_at)
     where id = r.id;
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Debug requests (test harnesses only; gated by the same session setting as debug_time, because
-- debug.reset wipes the store and debug.tick moves time).
-- ---------------------------------------------------------------------------------------------

create or replace function resonate._debug_enabled() returns boolean
language sql stable as $$
  select coalesce(current_setting('resonate.debug_time', true), '') in ('on', 'true', '1', 'yes')
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
  -- Then the task row: promise rows before task rows.
  select t.state = 'acquired' and t.version = floor((p_data ->> 'version')::numeric) into v_fenced
    from resonate.tasks t where t.id = v_id for no key update;
  if v_fenced is not true then
    return null;
  end if;

  if v_kind = 'promise.create' then
    -- Cast here, where the general path casts it (even for an existing child): an out-of-range
    -- value fails after the fence check, not before it.
    v_timeout := floor((v_adata ->> 'timeoutAt')::numeric)::bigint;
    if v_c.id is not null then
      if v_c.state = 'pending' and p_now >= v_c.timeout_at then
        return null;
      end if;
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
    if v_c.id is null or v_c.state <> 'pending' or p_now >= v_c.timeout_at then
      return null;
    end if;
    -- Callbacks and listeners are added only under this row lock, which we hold: if there are
    -- none (and no task) now, settling has no cascade.
    if exists (select 1 from resonate.tasks where id = v_child_id)
       or exists (select 1 from resonate.callbacks where awaited = v_child_id)
       or exists (select 1 from resonate.listeners where awaited = v_child_id) then
      return null;
    end if;
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

-- ---------------------------------------------------------------------------------------------
-- Dispatch: validation (400) first, then the promise locks in global order, then eager
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
    perform resonate._lock_promises(array[v_id]);
    perform resonate._converge(v_id, p_now);
    return resonate._promise_settle(v_data, p_now);

  when 'promise.register_callback' then
    if resonate._txt(v_data, 'awaited') = resonate._txt(v_data, 'awaiter') then
      return resonate._err(400, 'Awaited and awaiter must be different');
    end if;
    perform resonate._lock_promises(array[v_data ->> 'awaited', v_data ->> 'awaiter']);
    perform resonate._converge(v_data ->> 'awaited', p_now);
    perform resonate._converge(v_data ->> 'awaiter', p_now);
    return resonate._promise_register_callback(v_data, p_now);

  when 'promise.register_listener' then
    v_id := resonate._txt(v_data, 'awaited');
    perform resonate._lock_promises(array[v_id]);
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
    perform resonate._lock_promises(array[v_id]);
    perform resonate._converge(v_id, p_now);
    return resonate._task_create(v_data, p_now);

  when 'task.acquire', 'task.release', 'task.halt', 'task.continue' then
    v_id := resonate._txt(v_data, 'id');
    perform resonate._lock_promises(array[v_id]);
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
    perform resonate._lock_promises(array[v_id]);
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
    perform resonate._lock_promises(array[v_id] || v_ids);
    perform resonate._converge(v_id, p_now);
    foreach v_action in array array(select to_jsonb(x) from unnest(v_ids) x) loop
      perform resonate._converge(v_action #>> '{}', p_now);
    end loop;
    return resonate._task_suspend(v_data, p_now);

  when 'task.fence' then
    v_id := resonate._txt(v_data, 'id');
    v_action := v_data -> 'action';
    if jsonb_typeof(v_action -> 'data') is distinct from 'object'
       or (v_action ->> 'kind') not in ('promise.create', 'promise.settle') then
      perform resonate._bad('action must be a promise.create or promise.settle request');
    end if;
    perform resonate._lock_promises(array[v_id, resonate._txt(v_action -> 'data', 'id')]);
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
-- Entry points (spec §1.1). SECURITY DEFINER with a pinned search_path: callers need EXECUTE on
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
  v_head jsonb := '{}';
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
  loop
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

-- Deterministic timer pass for tests (and for operators who want to see the count).
create or replace function resonate.process_timeouts(now bigint) returns integer
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
  v_attempt integer := 0;
begin
  loop
    begin
      return resonate._tick($1);
    exception when deadlock_detected or serialization_failure or lock_not_available or unique_violation then
      v_attempt := v_attempt + 1;
      if v_attempt >= 10 then
        raise;
      end if;
      perform pg_sleep(random() * 0.002 * v_attempt);
    end;
  end loop;
end
$$;

-- What every worker calls at the start of every drain and pg_cron every minute: on the database
-- clock. An error here would abort the worker's whole drain (no message would ever be delivered),
-- so it is logged as a warning instead of raised.
create or replace function resonate.process_timeouts() returns integer
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
begin
  return resonate.process_timeouts(resonate._clock_ms());
exception when others then
  raise warning 'resonate.process_timeouts failed: % (%)', sqlerrm, sqlstate;
  return -1;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Garbage collection: whole workflow trees (root plus every `root:` descendant), once every
-- member has been settled for longer than the horizon, and outbox rows nobody dequeued (unicast
-- addresses of dead processes) older than the horizon.
-- ---------------------------------------------------------------------------------------------

create or replace function resonate.gc(horizon interval default interval '7 days') returns integer
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
declare
  v_cutoff bigint := resonate._clock_ms() - floor(extract(epoch from horizon) * 1000)::bigint;
  v_deleted integer;
begin
  with roots as (
    select r.id from resonate.promises r
     where r.state <> 'pending' and r.settled_at < v_cutoff and strpos(r.id, ':') = 0
       and not exists (
         select 1 from resonate.promises d
          where d.id >= r.id || ':' and d.id < r.id || ';'
            and (d.state = 'pending' or d.settled_at >= v_cutoff))
  ), doomed as (
    select id from roots
    union all
    select d.id from roots r join resonate.promises d on d.id >= r.id || ':' and d.id < r.id || ';'
  ), gone as (
    delete from resonate.promises p using doomed where p.id = doomed.id returning 1
  )
  select count(*) into v_deleted from gone;
  delete from resonate.outbox where created_at < now() - horizon;
  return v_deleted;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- pg_cron backstop: timers still fire (and the store still shrinks) when no worker is running.
-- pg_cron lives only in the database named by cron.database_name.
-- ---------------------------------------------------------------------------------------------

do $$
begin
  if exists (select from pg_extension where extname = 'pg_cron') then
    perform cron.schedule('resonate-process-timeouts', '* * * * *', 'select resonate.process_timeouts()');
    perform cron.schedule('resonate-gc', '17 3 * * *', $cmd$select resonate.gc(interval '7 days')$cmd$);
  end if;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Privileges: nothing for anon/authenticated (the schema would otherwise be reachable through
-- PUBLIC's default EXECUTE on functions); the worker's role gets the entry points and read access
-- for inspection.
-- ---------------------------------------------------------------------------------------------

revoke all on schema resonate from public;
revoke all on all tables in schema resonate from public;
revoke all on all sequences in schema resonate from public;
revoke all on all functions in schema resonate from public;
alter default privileges in schema resonate revoke execute on functions from public;

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
      resonate.process_timeouts(bigint),
      resonate.dequeue_execute(text, integer),
      resonate.dequeue_unblock(text, integer),
      resonate.gc(interval)
    to service_role;
  end if;
end
$$;
