// The soak's own record, in a `soak` schema of the app database: what it inserted and planned, and what
// it saw from outside the system under test (provider calls, page fetches, faults, worker logs). The
// invariants are SQL over these tables joined to the app's tables and the `resonate` schema, so every
// violation is a set of rows anyone can query after the run. Each run starts by emptying the tables; the
// previous run's data stays until then, for inspection.
import type pg from "pg";

const SCHEMA = `
create schema if not exists soak;

create table if not exists soak.meta (
  run text primary key,
  seed bigint not null,
  minutes double precision not null,
  rate double precision not null,
  started_at timestamptz not null default clock_timestamp(),
  load_ended_at timestamptz,
  quiesced_at timestamptz
);

-- One row per import job or image request, inserted in the same transaction as the row itself, so a
-- row exists here exactly when it exists in the app (an insert cut off by the database restart counts
-- as inserted if it committed, whatever the client saw).
create table if not exists soak.rows (
  kind text not null check (kind in ('import', 'images')),
  id uuid not null,
  tag text not null unique,
  plan jsonb not null,
  primary key (kind, id)
);

-- Ingest triggers: one per run, each after the corpus moved to a new version; expected lists the
-- documents (source name, title, revision) that version holds.
create table if not exists soak.ingest_triggers (
  label text primary key,
  version integer not null,
  expected jsonb not null,
  request_id bigint,
  triggered_at timestamptz not null default clock_timestamp()
);

-- What a succeeded run's index held when the soak checked it, before the corpus moved on.
create table if not exists soak.ingest_checks (
  run_id text primary key,
  label text not null,
  violations jsonb not null,
  checked_at timestamptz not null default clock_timestamp()
);

-- Every committed write to contacts by a soak job: transaction id and line, so "applied twice" shows
-- as a second row for a line or a second transaction for a batch.
create table if not exists soak.contact_effects (
  email text not null,
  op text not null,
  job_id uuid,
  line_no integer,
  txid bigint not null default txid_current(),
  at timestamptz not null default clock_timestamp()
);
create index if not exists contact_effects_job on soak.contact_effects (job_id);

create or replace function soak.record_contact_effect() returns trigger
language plpgsql as $$
begin
  insert into soak.contact_effects (email, op, job_id, line_no)
  values (new.email, tg_op, new.import_job_id, new.import_line_no);
  return null;
end $$;

create table if not exists soak.provider_calls (
  tag text not null,
  style text not null,
  seq integer not null,
  started_at timestamptz not null,
  status integer not null,
  sha256 text
);

create table if not exists soak.page_fetches (
  path text not null,
  at timestamptz not null
);

create table if not exists soak.step_events (
  at timestamptz not null,
  worker text not null,
  workflow_id text not null,
  step_id text not null
);
create index if not exists step_events_step on soak.step_events (step_id);

create table if not exists soak.faults (
  seq integer primary key,
  kind text not null,
  at timestamptz not null,
  recovered_at timestamptz,
  detail jsonb not null default '{}'
);

create table if not exists soak.stored_objects (
  path text primary key,
  sha256 text
);
`;

const TABLES = [
  "soak.meta",
  "soak.rows",
  "soak.ingest_triggers",
  "soak.ingest_checks",
  "soak.contact_effects",
  "soak.provider_calls",
  "soak.page_fetches",
  "soak.step_events",
  "soak.faults",
  "soak.stored_objects",
];

// Soak emails are c<line>@soak-<run>-<n>.test; the condition keeps every other write to contacts free.
const AUDIT_ON = `
drop trigger if exists soak_contact_effects on public.contacts;
create trigger soak_contact_effects after insert or update on public.contacts
  for each row when (new.email like '%@soak-%') execute function soak.record_contact_effect();`;

const AUDIT_OFF = "drop trigger if exists soak_contact_effects on public.contacts";

// The previous run's rows in the app's tables, so runs on a long-lived stack (the test suite's) do not
// pile up contacts. A row whose workflow is still pending (a run that was interrupted) cannot be deleted
// and stays.
const FORGET_APP_ROWS = `
delete from public.contacts where email like '%@soak-%';
delete from public.import_jobs j using soak.rows r
 where r.kind = 'import' and j.id = r.id and j.status in ('succeeded', 'partially_succeeded', 'failed');
delete from public.image_requests q using soak.rows r
 where r.kind = 'images' and q.id = r.id and q.status in ('succeeded', 'partially_succeeded', 'failed');
delete from public.ingest_runs where trigger like 'soak-%' and status in ('succeeded', 'failed');
delete from public.ingest_sources where name like 'soak-%';`;

/** Creates the schema, forgets the previous run, starts auditing contacts. */
export async function prepareSchema(
  db: pg.Pool,
  meta: { run: string; seed: number; minutes: number; rate: number },
): Promise<void> {
  await db.query(SCHEMA);
  await db.query(FORGET_APP_ROWS);
  await db.query(`truncate ${TABLES.join(", ")}`);
  await db.query(AUDIT_ON);
  await db.query("insert into soak.meta (run, seed, minutes, rate) values ($1, $2, $3, $4)", [
    meta.run,
    meta.seed,
    meta.minutes,
    meta.rate,
  ]);
}

/** Stops auditing contacts; the soak's tables stay for inspection until the next run. */
export async function stopAudit(db: pg.Pool): Promise<void> {
  await db.query(AUDIT_OFF);
}
