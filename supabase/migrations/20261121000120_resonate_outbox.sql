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
