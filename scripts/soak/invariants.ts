// What must hold once the soak is quiet, each as plain SQL over the app's tables, the `resonate` schema
// and the soak's own record (schema.ts). `checked` counts what an invariant looked at; `violations`
// returns the rows that break it, which is the evidence printed when it fails.
import type pg from "pg";

export interface Invariant {
  name: string;
  checked: string;
  violations: string;
}

export interface InvariantResult {
  name: string;
  checked: number;
  violations: Record<string, unknown>[];
}

const TERMINAL = "('succeeded', 'partially_succeeded', 'failed')";

// Every soak row with its status and its workflow's root promise; ingest runs by their trigger label.
const ROWS = `
with soak_rows as (
  select r.kind, r.id::text as row_id, r.tag, r.plan, coalesce(j.status, q.status) as status, p.state as workflow
    from soak.rows r
    left join public.import_jobs j on r.kind = 'import' and j.id = r.id
    left join public.image_requests q on r.kind = 'images' and q.id = r.id
    left join resonate.promises p on p.id = r.kind || '/' || r.id
  union all
  select 'ingest', r.id, t.label, null, r.status, p.state
    from soak.ingest_triggers t
    join public.ingest_runs r on r.trigger = t.label
    left join resonate.promises p on p.id = 'ingest/' || r.id
)`;

// The import jobs whose file was served, with the lines each must have imported.
const IMPORT_LINES = `
with job as (
  select r.id, r.tag, r.plan, case when r.plan ->> 'format' = 'csv' then 2 else 1 end as first
    from soak.rows r where r.kind = 'import' and not (r.plan ->> 'missing')::boolean
), valid as (
  select job.id as job_id, job.tag, line
    from job, generate_series(job.first, job.first + (job.plan ->> 'lines')::int - 1) as line
   where not job.plan -> 'invalid' @> to_jsonb(line) and not job.plan -> 'unreadable' @> to_jsonb(line)
)`;

// Each import batch's lines: a batch begins at its first record's line and ends where the next begins.
const BATCH_LINES = `
batch_lines as (
  select job_id, batch_index, first_line,
         lead(first_line) over (partition by job_id order by batch_index) as next_line
    from public.import_batches
)`;

// The line's batch, for a row `c` with job_id and line_no.
const IN_BATCH =
  "b.job_id = c.job_id and c.line_no >= b.first_line and (b.next_line is null or c.line_no < b.next_line)";

export const INVARIANTS: Invariant[] = [
  {
    // The system lost nothing: every import job, image request and ingest run the soak started is
    // finished, and so is its workflow. A row left queued is a lost webhook the backstop did not
    // recover; one left running is a workflow nobody resumed.
    name: "every inserted row reached a terminal status, none is queued or running",
    checked: `${ROWS} select count(*)::int as n from soak_rows`,
    violations: `${ROWS}
      select kind, row_id, tag, status, workflow from soak_rows
       where status is null or status not in ${TERMINAL} or workflow is null or workflow = 'pending'
       order by kind, row_id`,
  },
  {
    // Faults change timing, not outcomes: each row ends as its plan says (a missing file fails the job,
    // bad lines make it partial, a style that fails for good fails only itself), with the counts the
    // file implies; every ingest run succeeds (the corpus server never fails).
    name: "every row ended as its plan says, with the counts its file implies",
    checked: `select (select count(*)::int from soak.rows)
                   + (select count(*)::int from soak.rows r, jsonb_array_elements(r.plan -> 'styles'))
                   + (select count(*)::int from soak.ingest_triggers t join public.ingest_runs r on r.trigger = t.label) as n`,
    violations: `
      select 'import' as kind, r.id::text as row_id, r.plan ->> 'expect' as expected, j.status as actual,
             jsonb_build_object('total', j.total_rows, 'imported', j.imported_rows, 'failed', j.failed_rows,
                                'skipped', j.skipped_rows, 'error', j.error) as detail
        from soak.rows r join public.import_jobs j on j.id = r.id
       where r.kind = 'import' and j.status in ${TERMINAL} and (
             j.status <> r.plan ->> 'expect'
          or (not (r.plan ->> 'missing')::boolean and (
                 j.total_rows is distinct from (r.plan ->> 'lines')::int
              or j.imported_rows <> (r.plan ->> 'lines')::int - jsonb_array_length(r.plan -> 'invalid')
                                    - jsonb_array_length(r.plan -> 'unreadable')
              or j.failed_rows <> jsonb_array_length(r.plan -> 'invalid') + jsonb_array_length(r.plan -> 'unreadable')
              or j.skipped_rows <> 0)))
      union all
      select 'images', r.id::text, r.plan ->> 'expect', q.status,
             jsonb_build_object('succeeded', q.images_succeeded, 'failed', q.images_failed, 'error', q.error)
        from soak.rows r join public.image_requests q on q.id = r.id
       where r.kind = 'images' and q.status in ${TERMINAL} and q.status <> r.plan ->> 'expect'
      union all
      select 'image style', r.id || '/' || (s ->> 'style'), s ->> 'expect', g.status,
             jsonb_build_object('fate', s ->> 'fate', 'attempts', g.attempts, 'error', g.error)
        from soak.rows r
       cross join jsonb_array_elements(r.plan -> 'styles') s
        join public.image_requests q on q.id = r.id and q.status in ${TERMINAL}
        left join public.generated_images g on g.request_id = r.id and g.style = s ->> 'style'
       where r.kind = 'images' and g.status is distinct from s ->> 'expect'
      union all
      select 'ingest', r.id, 'succeeded', r.status, jsonb_build_object('error', r.error)
        from soak.ingest_triggers t join public.ingest_runs r on r.trigger = t.label
       where r.status in ${TERMINAL} and r.status <> 'succeeded'`,
  },
  {
    // Exactly once, line by line: each valid line is one contacts row written by its own job, inserted
    // once and never updated (the audit trigger sees every committed write); and each batch was applied
    // in one transaction, so a re-run after a crash added nothing and no batch was split.
    name: "every valid import row is in its target exactly once, each batch applied once",
    checked: `${IMPORT_LINES} select count(*)::int as n from valid`,
    violations: `${IMPORT_LINES}, ${BATCH_LINES}, effects as (
        select job_id, line_no, count(*) filter (where op = 'INSERT') as inserts,
               count(*) filter (where op = 'UPDATE') as updates, count(distinct txid) as transactions
          from soak.contact_effects group by job_id, line_no
      ), target as (
        select email, import_job_id, import_line_no from public.contacts where email like '%@soak-%'
      )
      select 'line' as what, v.job_id::text, v.line, t.import_job_id::text as target_job, t.import_line_no as target_line,
             coalesce(e.inserts, 0) as inserts, coalesce(e.updates, 0) as updates
        from valid v
        left join target t on t.email = 'c' || v.line || '@' || v.tag || '.test'
        left join effects e on e.job_id = v.job_id and e.line_no = v.line
       where t.email is null or t.import_job_id is distinct from v.job_id or t.import_line_no is distinct from v.line
          or coalesce(e.inserts, 0) <> 1 or coalesce(e.updates, 0) <> 0
      union all
      select 'write to a line that is not valid', e.job_id::text, e.line_no, null, null, e.inserts, e.updates
        from effects e
       where not exists (select from valid v where v.job_id = e.job_id and v.line = e.line_no)
      union all
      select 'batch applied in ' || count(distinct c.txid) || ' transactions', c.job_id::text, b.batch_index,
             null, null, count(*), null
        from soak.contact_effects c
        join batch_lines b on ${IN_BATCH}
       group by c.job_id, b.batch_index
      having count(distinct c.txid) > 1
       order by 2, 3`,
  },
  {
    // Every line the soak made bad has exactly one import_errors row, for the reason it was made bad
    // (an invalid email, or a line that is no record at all), and no good line has one.
    name: "every invalid import line has exactly one import_errors row",
    checked: `select coalesce(sum(jsonb_array_length(plan -> 'invalid') + jsonb_array_length(plan -> 'unreadable')), 0)::int as n
                from soak.rows where kind = 'import' and not (plan ->> 'missing')::boolean`,
    violations: `
      with bad as (
        select r.id as job_id, l::int as line, 'email' as field
          from soak.rows r, jsonb_array_elements_text(r.plan -> 'invalid') l
         where r.kind = 'import' and not (r.plan ->> 'missing')::boolean
        union all
        select r.id, l::int, null
          from soak.rows r, jsonb_array_elements_text(r.plan -> 'unreadable') l
         where r.kind = 'import' and not (r.plan ->> 'missing')::boolean
      ), errs as (
        select e.job_id, e.line_no, count(*)::int as n, array_agg(e.field) as fields
          from public.import_errors e join soak.rows r on r.kind = 'import' and r.id = e.job_id
         group by e.job_id, e.line_no
      )
      select b.job_id::text, b.line, b.field as expected_field, e.n as error_rows, e.fields
        from bad b left join errs e on e.job_id = b.job_id and e.line_no = b.line
       where e.n is distinct from 1 or e.fields[1] is distinct from b.field
      union all
      select e.job_id::text, e.line_no, null, e.n, e.fields
        from errs e where not exists (select from bad b where b.job_id = e.job_id and b.line = e.line_no)
       order by 1, 2`,
  },
  {
    // Images: a succeeded style has one object in Storage at its path whose bytes are what the row says
    // (sha256) and came from one of the provider's successful answers for that style; no other style has
    // an object; and the provider saw at most as many calls per style as the style counted attempts.
    name: "every succeeded image style has exactly one stored object; provider calls per style <= attempts",
    checked:
      "select count(*)::int as n from soak.rows r, jsonb_array_elements(r.plan -> 'styles') where r.kind = 'images'",
    violations: `
      select 'stored object' as what, r.tag, g.style,
             jsonb_build_object('objects', (select count(*) from storage.objects o where o.bucket_id = 'images' and o.name = g.path),
                                'stored_sha256', so.sha256, 'row_sha256', g.sha256) as detail
        from soak.rows r join public.generated_images g on g.request_id = r.id
        left join soak.stored_objects so on so.path = g.path
       where r.kind = 'images' and g.status = 'succeeded' and (
             (select count(*) from storage.objects o where o.bucket_id = 'images' and o.name = g.path) <> 1
          or so.sha256 is distinct from g.sha256
          or not exists (select from soak.provider_calls c
                          where c.tag = r.tag and c.style = g.style and c.status = 200 and c.sha256 = g.sha256))
      union all
      select 'object for a style that did not succeed', r.tag, o.name, jsonb_build_object('created', o.created_at)
        from soak.rows r
        join storage.objects o on o.bucket_id = 'images' and o.name like r.id || '/%'
       where r.kind = 'images'
         and not exists (select from public.generated_images g
                          where g.request_id = r.id and g.path = o.name and g.status = 'succeeded')
      union all
      select 'more provider calls than attempts', r.tag, c.style,
             jsonb_build_object('calls', count(*), 'attempts', max(g.attempts))
        from soak.provider_calls c
        join soak.rows r on r.tag = c.tag
        left join public.generated_images g on g.request_id = r.id and g.style = c.style
       group by r.tag, c.style
      having count(*) > coalesce(max(g.attempts), 0)`,
  },
  {
    // Ingest: after each succeeded run (checked before the corpus moved on, soak.ingest_checks), the
    // index held exactly the documents of the version the run crawled, each with chunks of that revision
    // only; and nothing a succeeded run staged is left in staging (a late step would show here).
    name: "every ingest run's documents and chunks match its corpus version; staging empty after success",
    checked: `select count(*)::int as n from soak.ingest_triggers t join public.ingest_runs r on r.trigger = t.label
               where r.status = 'succeeded'`,
    violations: `
      select c.run_id, c.label, v as detail
        from soak.ingest_checks c, jsonb_array_elements(c.violations) v
      union all
      select r.id, t.label, jsonb_build_object('staging_rows_left', count(*))
        from soak.ingest_triggers t
        join public.ingest_runs r on r.trigger = t.label
        join public.ingest_staging s on s.run_id = r.id
       where r.status = 'succeeded'
       group by r.id, t.label
      union all
      select r.id, t.label, jsonb_build_object('not_checked', true)
        from soak.ingest_triggers t join public.ingest_runs r on r.trigger = t.label
       where r.status = 'succeeded' and not exists (select from soak.ingest_checks c where c.run_id = r.id)`,
  },
  {
    // A finished step never runs again. The store says when each step settled; against it: every step a
    // worker started (its log), every provider call (by the style's branch, images/<id>:<n>), every
    // contacts write (by batch: an import's `batches` steps run batches from where the one before
    // stopped up to the `next` each returned), and every page fetch (by the run's fetchItem
    // step for that page: a source's sub-run <run>:<n> lists in <run>:<n>.1, whose recorded keys, in
    // order, are fetched by <run>:<n>.2, .3, ...). Any of them after the settle
    // is a finished step running twice.
    name: "no workflow ran a finished step twice",
    checked: "select count(*)::int as n from soak.step_events",
    violations: `
      with runs as (
        select r.id as run_id, t.triggered_at, r.finished_at
          from soak.ingest_triggers t join public.ingest_runs r on r.trigger = t.label
      ), ${BATCH_LINES}, batch_steps as (
        select p.id, p.settled_at, split_part(split_part(p.id, ':', 1), '/', 2) as job_id,
               coalesce(lag(v.next) over (partition by split_part(p.id, ':', 1) order by p.created_at), 0) as first_batch,
               v.next
          from resonate.promises p
         cross join lateral (
           select (convert_from(decode(p.value ->> 'data', 'base64'), 'UTF8')::jsonb ->> 'next')::int as next) v
         where p.id like 'import/%:%' and p.state = 'resolved'
           and convert_from(decode(p.param ->> 'data', 'base64'), 'UTF8')::jsonb ->> 'func' = 'batches'
      ), lists as (
        select runs.*, regexp_replace(p.id, '\\.1$', '') as parent,
               convert_from(decode(p.value ->> 'data', 'base64'), 'UTF8')::jsonb -> 'keys' as keys
          from runs join resonate.promises p
            on p.id >= ('ingest/' || runs.run_id || ':') collate "C" and p.id < ('ingest/' || runs.run_id || ';') collate "C"
         where p.state = 'resolved' and p.id like '%.1'
           and convert_from(decode(p.param ->> 'data', 'base64'), 'UTF8')::jsonb ->> 'func' = 'listItems'
      )
      select 'worker started a settled step' as what, e.step_id as step, e.worker as by,
             e.at as at, to_timestamp(p.settled_at / 1000.0) as settled
        from soak.step_events e join resonate.promises p on p.id = e.step_id
       where p.state <> 'pending' and e.at > to_timestamp(p.settled_at / 1000.0)
      union all
      select 'provider called for a settled style', p.id, c.style, c.started_at, to_timestamp(p.settled_at / 1000.0)
        from soak.provider_calls c
        join soak.rows r on r.tag = c.tag
        join public.image_requests q on q.id = r.id
        cross join lateral unnest(q.styles) with ordinality as s(style, n)
        join resonate.promises p on p.id = 'images/' || r.id || ':' || s.n
       where s.style = c.style and p.state <> 'pending' and c.started_at > to_timestamp(p.settled_at / 1000.0)
      union all
      select 'batch written after its step settled', s.id, count(*)::text, min(c.at), to_timestamp(s.settled_at / 1000.0)
        from soak.contact_effects c
        join batch_lines b on ${IN_BATCH}
        join batch_steps s on s.job_id = c.job_id::text and b.batch_index >= s.first_batch and b.batch_index < s.next
       where c.at > to_timestamp(s.settled_at / 1000.0)
       group by s.id, s.settled_at
      union all
      select 'page fetched after its step settled', p.id, k.key, f.at, to_timestamp(p.settled_at / 1000.0)
        from lists l
       cross join jsonb_array_elements_text(l.keys) with ordinality as k(key, n)
        join resonate.promises p on p.id = l.parent || '.' || (k.n + 1)
        join soak.page_fetches f on f.path = k.key and f.at between l.triggered_at and l.finished_at
       where p.state <> 'pending' and f.at > to_timestamp(p.settled_at / 1000.0)
       order by 4`,
  },
  {
    // Nothing is stranded: no task is held by a worker id that no running process has, and none of the
    // soak's workflows is still held by anyone once everything is finished (a killed worker's task that
    // was never released would sit here until its lease ran out).
    name: "no task is held by a dead worker",
    checked: `${ROWS} select count(*)::int as n from soak_rows where workflow is not null`,
    violations: `${ROWS}
      select t.id, t.state, t.pid, t.version, t.ttl
        from resonate.tasks t
       where t.state = 'acquired'
         and (t.pid <> all($1::text[])
              or exists (select from soak_rows s where t.id = s.kind || '/' || s.row_id))`,
  },
  {
    // Twenty concurrent deliveries of one row's webhook start one workflow: every answer is 202 with the
    // row's workflow id, and no other workflow exists for the row (the row's effects are checked above).
    name: "20 duplicate webhook deliveries started one workflow",
    checked: `select coalesce(sum(jsonb_array_length(detail -> 'answers')), 0)::int as n
                from soak.faults where kind = 'webhook-burst'`,
    violations: `
      select f.detail ->> 'row' as row_id, a as answer, null as other_workflow
        from soak.faults f, jsonb_array_elements(f.detail -> 'answers') a
       where f.kind = 'webhook-burst'
         and (a ->> 'status' <> '202' or a ->> 'workflow_id' is distinct from 'images/' || (f.detail ->> 'row'))
      union all
      select f.detail ->> 'row', null, p.id
        from soak.faults f join resonate.promises p
          on p.id like 'images/' || (f.detail ->> 'row') || '/%' and p.id not like '%:%'
       where f.kind = 'webhook-burst'`,
  },
];

// After a succeeded run: the soak's sources in the index against the version the run crawled ($1 is the
// trigger label). A document whose chunks carry another revision's marker, or none, is stale.
export const INGEST_MATCHES_CORPUS = `
with exp as (
  select e ->> 'source' as source, e ->> 'title' as title, (e ->> 'rev')::int as rev
    from soak.ingest_triggers t, jsonb_array_elements(t.expected) e where t.label = $1
), doc as (
  select s.name as source, d.id, d.title, d.model, d.run_id
    from public.documents d join public.ingest_sources s on s.id = d.source_id
   where s.name in (select source from exp)
), marks as (
  select c.document_id,
         array_agg(distinct (regexp_match(c.content, 'soakmark \\S+ r(\\d+) end'))[1]::int)
           filter (where c.content ~ 'soakmark \\S+ r\\d+ end') as revs,
         count(*)::int as chunks, max(c.chunk_index) as last_index, bool_and(c.model = d.model) as same_model
    from public.chunks c join doc d on d.id = c.document_id
   group by c.document_id
)
select coalesce(e.source, d.source) as source, coalesce(e.title, d.title) as title, e.rev as expected_rev,
       m.revs as indexed_revs, m.chunks, d.run_id as indexed_by,
       case when e.title is null then 'document not in this version'
            when d.id is null then 'document of this version missing'
            when m.revs is distinct from array[e.rev] then 'chunks of another revision'
            when m.chunks <> m.last_index + 1 then 'chunk indexes have gaps'
            else 'chunks of another model' end as problem
  from exp e
  full join doc d on d.source = e.source and d.title = e.title
  left join marks m on m.document_id = d.id
 where e.title is null or d.id is null or m.revs is distinct from array[e.rev]
    or m.chunks <> m.last_index + 1 or not m.same_model`;

export async function checkInvariants(db: pg.Pool, liveWorkers: string[]): Promise<InvariantResult[]> {
  const results: InvariantResult[] = [];
  for (const inv of INVARIANTS) {
    const params = inv.violations.includes("$1") ? [liveWorkers] : [];
    const checked = await db.query<{ n: number }>(inv.checked);
    const bad = await db.query(inv.violations, params);
    results.push({ name: inv.name, checked: checked.rows[0]?.n ?? 0, violations: bad.rows });
  }
  return results;
}
