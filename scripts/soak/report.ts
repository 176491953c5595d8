// The numbers of a run, from the database's own timestamps and the soak's record: rows per second
// accepted and completed per workload, time from insert to terminal status, recovery after each
// SIGKILL, how long each stack process was away, and the peaks the monitor saw.
import type pg from "pg";
import type { Row } from "../../bench/lib/report.ts";
import type { InvariantResult } from "./invariants.ts";
import type { LoadCounts } from "./load.ts";
import type { Peaks } from "./monitor.ts";

export interface Metrics {
  workloads: Row[];
  recovery: Row[];
  faults: Row[];
  peaks: Row[];
}

// Insert (for ingest: the trigger) to terminal status, per workload. A delivery is lost when the fault
// ate the webhook: an import job or image request whose workflow started more than two minutes after
// the insert (the backstop re-posted it), an ingest trigger that never made a run (nothing re-posts it).
const WORKLOADS = `
with t as (
  select r.kind, j.created_at as inserted, j.finished_at, j.status,
         to_timestamp(p.created_at / 1000.0) - j.created_at > interval '2 minutes' as lost
    from soak.rows r join public.import_jobs j on r.kind = 'import' and j.id = r.id
    left join resonate.promises p on p.id = 'import/' || r.id
  union all
  select r.kind, q.created_at, q.finished_at, q.status,
         to_timestamp(p.created_at / 1000.0) - q.created_at > interval '2 minutes'
    from soak.rows r join public.image_requests q on r.kind = 'images' and q.id = r.id
    left join resonate.promises p on p.id = 'images/' || r.id
  union all
  select 'ingest', g.triggered_at, r.finished_at, r.status, r.id is null
    from soak.ingest_triggers g left join public.ingest_runs r on r.trigger = g.label
), s as (
  select kind, count(*)::int as accepted,
         count(*) filter (where status in ('succeeded', 'partially_succeeded', 'failed'))::int as completed,
         count(*) filter (where lost)::int as lost,
         extract(epoch from max(finished_at) - (select started_at from soak.meta))::float8 as completed_within_s,
         percentile_cont(0.5) within group (order by extract(epoch from finished_at - inserted)) as p50,
         percentile_cont(0.95) within group (order by extract(epoch from finished_at - inserted)) as p95
    from t group by kind
)
select * from s order by kind`;

// Per kill: seconds until every workflow the killed worker held ran a step again on a live worker (or
// finished); a workflow that had already finished when the kill landed is left out.
const RECOVERY = `
with k as (
  select f.seq, f.at, h.wf from soak.faults f, jsonb_array_elements_text(f.detail -> 'held') as h(wf)
   where f.kind = 'kill'
), w as (
  select k.seq, k.at,
         (select min(e.at) from soak.step_events e where e.workflow_id = k.wf and e.step_id <> k.wf and e.at > k.at) as next_step,
         (select to_timestamp(p.settled_at / 1000.0) from resonate.promises p where p.id = k.wf) as settled
    from k
)
select seq, count(*)::int as workflows,
       max(extract(epoch from least(next_step, settled) - at))::float8 as seconds
  from w where settled is null or settled > at
 group by seq order by seq`;

// How long each crashed server was away (the pause: how long the worker was stopped) and, for the paused
// worker, when the other worker had run a step of every workflow the paused one held.
const FAULTS = `
select f.kind, extract(epoch from f.recovered_at - f.at)::float8 as seconds,
       (select max(extract(epoch from (
                 select min(e.at) from soak.step_events e
                  where e.workflow_id = h.wf and e.worker <> f.detail ->> 'worker' and e.at > f.at) - f.at))
          from jsonb_array_elements_text(f.detail -> 'held') as h(wf))::float8 as taken_over
  from soak.faults f
 where f.kind in ('postgres-restart', 'functions-crash', 'pooler-crash', 'worker-pause')
 order by f.seq`;

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]!;
};
const round = (x: number | null | undefined, digits = 1) =>
  x === null || x === undefined || Number.isNaN(x) ? "-" : Number(x.toFixed(digits));

export async function collectMetrics(
  db: pg.Pool,
  o: {
    loadSeconds: number;
    counts: Record<string, LoadCounts>;
    peaks: Peaks;
  },
): Promise<Metrics> {
  const { rows: w } = await db.query(WORKLOADS);
  const workloads = w.map((r) => ({
    workload: r.kind,
    accepted: r.accepted,
    "insert failures": o.counts[r.kind]?.failed ?? 0,
    "accepted/s": round(r.accepted / o.loadSeconds, 3),
    "lost deliveries": r.lost,
    "completed/s": round(r.completed / Math.max(o.loadSeconds, r.completed_within_s ?? 0), 3),
    "p50 insert to terminal s": round(r.p50),
    "p95 insert to terminal s": round(r.p95),
  }));
  const { rows: kills } = await db.query("select detail from soak.faults where kind = 'kill' order by seq");
  const { rows: rec } = await db.query<{ seq: number; workflows: number; seconds: number | null }>(RECOVERY);
  const measured = rec.filter((r) => r.seconds !== null).map((r) => r.seconds!);
  const recovery: Row[] = [
    {
      kills: kills.length,
      "with tasks held": rec.length,
      "held tasks unknown (database down)": kills.filter((k) => k.detail.held === null).length,
      "p50 recovery s": round(pct(measured, 0.5)),
      "p95 recovery s": round(pct(measured, 0.95)),
      "max recovery s": round(measured.length ? Math.max(...measured) : Number.NaN),
    },
  ];
  const { rows: f } = await db.query(FAULTS);
  const faults = f.map((r) => ({
    fault: r.kind,
    "back after s": round(r.seconds),
    "held workflows taken over after s": round(r.taken_over),
  }));
  const peaks: Row[] = [
    {
      "peak client connections": o.peaks.connections,
      max_connections: o.peaks.maxConnections,
      "peak worker RSS MiB": Math.round(o.peaks.workerRssKiB / 1024),
    },
  ];
  return { workloads, recovery, faults, peaks };
}

/** The invariants as a table, and each violation's rows (at most `limit` per invariant). */
export function formatInvariants(results: InvariantResult[], limit = 20): string {
  const lines = ["", "Invariants:"];
  for (const r of results) {
    const mark = r.violations.length === 0 ? "ok  " : "FAIL";
    lines.push(`  ${mark} ${r.name}: ${r.checked} checked, ${r.violations.length} violations`);
  }
  for (const r of results.filter((x) => x.violations.length > 0)) {
    lines.push(
      "",
      `Violations of "${r.name}" (${r.violations.length}${r.violations.length > limit ? `, first ${limit}` : ""}):`,
    );
    for (const v of r.violations.slice(0, limit)) lines.push(`  ${JSON.stringify(v)}`);
  }
  return lines.join("\n");
}
