-- Small helpers, and the records (promise, task, schedule) as the SDK sees them. See
-- docs/resonate-protocol.md §2.

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

-- A task version as a request names it, exactly (docs/resonate-protocol.md §4: acquire quotes it
-- exactly, a fence needs it equal, a heartbeat renews only at the same version), as the reference
-- compares it (task.version !== version). Null for a number that is no int4 (1.5, 2^32), which equals
-- no version: acquire and the fences answer 409, a heartbeat skips the entry. Rounded instead, 1.5
-- would pass for a version its sender was never given, and one rounding down (fences) beside one
-- rounding to nearest (heartbeats) would not even agree which. Null for a non-number too, which the
-- requests that answer with a status refuse first (_version).
create or replace function resonate._exact_version(p jsonb) returns integer
language sql immutable as $$
  select case when jsonb_typeof(p) = 'number'
                   and (p #>> '{}')::numeric % 1 = 0
                   and (p #>> '{}')::numeric between -2147483648 and 2147483647
              then (p #>> '{}')::numeric::integer end
$$;

-- The version a fencing request or an acquire names: 400 unless a number, then _exact_version.
create or replace function resonate._version(p_obj jsonb, p_key text) returns integer
language plpgsql immutable as $$
begin
  if jsonb_typeof(p_obj -> p_key) is distinct from 'number' then
    perform resonate._bad(format('%s must be a number', p_key));
  end if;
  return resonate._exact_version(p_obj -> p_key);
end
$$;

create or replace function resonate._obj(p_obj jsonb, p_key text) returns jsonb
language plpgsql immutable as $$
begin
  if p_obj -> p_key is null or jsonb_typeof(p_obj -> p_key) = 'null' then
    return '{}'::jsonb;
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
