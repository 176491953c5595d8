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
