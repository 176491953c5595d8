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
  v_out integer[] := '{}'::integer[];
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
