-- The Resonate durable-promise store, driven by the SDK's PostgresNetwork (@resonatehq/sdk/postgres).
--
-- Contract: docs/resonate-protocol.md (wire version 2026-04-01, SDK 0.11.5). Reference semantics:
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
--
-- The store's files, in order: tables (this one), records (helpers and the JSON the SDK sees), outbox,
-- promises, tasks, schedules, timers, debug requests, the entry points of the SDK's PostgresNetwork,
-- the entry points of our own Network adapter (functions/shared/store/), and privileges.

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

-- Every worker asks every few seconds which tasks the store shows held under its id (to release those
-- it is not running: a crashed predecessor's, or ones stranded by a database outage). Only acquired
-- tasks matter, and there are few of them next to the settled history, so a partial index answers that
-- without scanning the table.
create index if not exists tasks_acquired_by_pid on resonate.tasks (pid) where state = 'acquired';

-- Registered workers: see worker_register in 20261121000190_resonate_worker_entry_points.sql.
create table if not exists resonate.workers (
  pid           text collate "C" primary key,
  -- The worker's group address: its peers there, which will run its released tasks, watch it.
  anycast       text not null,
  -- The advisory lock (namespace, lock_key) the registering session holds. A fresh key per
  -- registration, so a restarted worker under the same id never waits on its predecessor's lock.
  lock_key      integer not null,
  registered_at bigint not null
);
create sequence if not exists resonate.worker_lock_keys as integer cycle;
