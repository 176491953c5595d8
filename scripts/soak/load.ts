// Rows arriving at a steady rate through the real trigger path: INSERTs into import_jobs and
// image_requests (the AFTER INSERT triggers post the webhooks), and ingest runs started the way pg_cron
// starts them (app.trigger_ingest), one at a time, the corpus moving to a new version before each.
// Each row goes into soak.rows in the same statement as itself, with its plan.
import type pg from "pg";
import type { Corpus } from "./corpus.ts";
import { INGEST_MATCHES_CORPUS } from "./invariants.ts";
import {
  expectedImageStatus,
  expectedImportStatus,
  type ImagePlan,
  type ImportPlan,
  imagePlan,
  importPlan,
  styleSucceeds,
} from "./plans.ts";
import type { Random } from "./random.ts";

export interface LoadCounts {
  inserted: number;
  /** Inserts that failed (the database was restarting); whether they committed is in soak.rows. */
  failed: number;
}

export interface Load {
  counts: { import: LoadCounts; images: LoadCounts; ingest: LoadCounts };
  /** Stops inserting and triggering; resolves once the loops have ended. */
  stop(): Promise<void>;
  /** Checks the index against the last run's corpus version, once that run has finished. */
  checkLastRun(): Promise<void>;
}

export interface LoadOptions {
  db: pg.Pool;
  /** Draws the rows' plans; its own stream, so a seed gives the same rows whatever the timing. */
  rnd: Random;
  /** Draws the pauses between ingest runs. */
  ingestRnd: Random;
  run: string;
  /** Import jobs and image requests per minute, together. */
  rate: number;
  origin: () => string;
  corpus: Corpus;
  imports: Map<string, ImportPlan>;
  images: Map<string, ImagePlan>;
  log: (event: string, fields?: Record<string, unknown>) => void;
}

const INSERT_IMPORT = `
with j as (
  insert into public.import_jobs (source_url, format, target, batch_size)
  values ($1, $2, 'contacts', $3) returning id
), fault as (
  insert into app.import_fault_injections (job_id, batch_index, fail_attempts)
  select id, $4, 2 from j where $4::int is not null
)
insert into soak.rows (kind, id, tag, plan) select 'import', id, $5, $6 from j`;

const INSERT_IMAGES = `
with q as (insert into public.image_requests (prompt, styles) values ($1, $2) returning id)
insert into soak.rows (kind, id, tag, plan) select 'images', id, $3, $4 from q`;

// The run a trigger started, and what became of the HTTP request pg_net was to send. pg_net's tables
// are unlogged and so is their id sequence: after the restart ids start over, and a response with the
// trigger's id may belong to a later request.
const TRIGGER_STATE = `
select r.id as run_id, r.status,
       exists (select from resonate.promises p where p.id = 'ingest/' || r.id) as started,
       exists (select from net.http_request_queue q
                where q.id = t.request_id and convert_from(q.body, 'UTF8') like '%' || t.label || '%') as queued,
       (select status_code from net._http_response h
         where h.id = t.request_id and h.created >= t.triggered_at
           and (h.status_code is distinct from 202 or h.content like '%"workflow_id":"ingest/%')) as answered
  from soak.ingest_triggers t left join public.ingest_runs r on r.trigger = t.label
 where t.label = $1`;

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });

export function startLoad(o: LoadOptions): Load {
  const counts = {
    import: { inserted: 0, failed: 0 },
    images: { inserted: 0, failed: 0 },
    ingest: { inserted: 0, failed: 0 },
  };
  const abort = new AbortController();
  let n = 0;
  let lastRun: { label: string; runId?: string; status?: string } | undefined;

  async function insertImport(tag: string): Promise<void> {
    const plan = importPlan(o.rnd);
    o.imports.set(tag, plan);
    const ext = plan.format === "csv" ? "csv" : "jsonl";
    await o.db.query(INSERT_IMPORT, [
      `${o.origin()}/imports/${tag}.${ext}`,
      plan.format,
      plan.batchSize,
      plan.missing ? null : plan.failingBatch,
      tag,
      { ...plan, expect: expectedImportStatus(plan) },
    ]);
  }

  async function insertImages(tag: string): Promise<void> {
    const plan = imagePlan(o.rnd);
    o.images.set(tag, plan);
    const styles = plan.styles.map((s) => ({ ...s, expect: styleSucceeds(s.fate) ? "succeeded" : "failed" }));
    await o.db.query(INSERT_IMAGES, [
      `soak image ${tag}`,
      plan.styles.map((s) => s.style),
      tag,
      { styles, expect: expectedImageStatus(plan) },
    ]);
  }

  async function rows(): Promise<void> {
    const interval = 60_000 / o.rate;
    while (!abort.signal.aborted) {
      const kind = o.rnd.next() < 0.4 ? "import" : "images";
      const tag = `soak-${o.run}-${++n}`;
      try {
        await (kind === "import" ? insertImport(tag) : insertImages(tag));
        counts[kind].inserted++;
      } catch (err) {
        counts[kind].failed++;
        o.log("insert failed", { kind, tag, error: (err as Error).message });
      }
      await sleep(interval * (0.75 + o.rnd.next() * 0.5), abort.signal);
    }
  }

  /** Waits until the run is over, or its trigger is known lost (no run row will ever come). */
  async function follow(label: string): Promise<void> {
    let lostSince: number | undefined;
    while (!abort.signal.aborted) {
      const s = await o.db
        .query<{
          run_id: string | null;
          status: string | null;
          started: boolean;
          queued: boolean;
          answered: number | null;
        }>(TRIGGER_STATE, [label])
        .then((r) => r.rows[0])
        .catch(() => undefined);
      if (s?.run_id) lastRun = { label, runId: s.run_id, status: s.status ?? undefined };
      if (s?.status === "succeeded" || s?.status === "failed") return;
      // Not sent and not queued (the restart dropped pg_net's queue), or answered without a run: lost.
      const lost = s && !s.run_id && !s.queued && s.answered !== 202;
      lostSince = lost ? (lostSince ?? Date.now()) : undefined;
      if (lostSince && Date.now() - lostSince > 5_000) {
        o.log("ingest trigger lost", { label, answered: s?.answered });
        return;
      }
      // A run row the function inserted but could not start: it stays queued and the invariants say so.
      if (s?.status === "queued" && !s.started && s.answered !== null && s.answered !== 202) return;
      await sleep(1000, abort.signal);
    }
  }

  async function checkRun(run: { label: string; runId?: string; status?: string }): Promise<void> {
    if (run.status !== "succeeded" || !run.runId) return;
    const { rows: bad } = await o.db.query(INGEST_MATCHES_CORPUS, [run.label]);
    await o.db.query(
      "insert into soak.ingest_checks (run_id, label, violations) values ($1, $2, $3) on conflict do nothing",
      [run.runId, run.label, JSON.stringify(bad)],
    );
  }

  /** Whether a trigger whose statement failed was committed after all, asked once the database is back. */
  async function committed(label: string): Promise<boolean> {
    while (!abort.signal.aborted) {
      const found = await o.db
        .query("select from soak.ingest_triggers where label = $1", [label])
        .then((r) => (r.rowCount ?? 0) > 0)
        .catch(() => undefined);
      if (found !== undefined) return found;
      await sleep(1000, abort.signal);
    }
    return false;
  }

  async function ingest(): Promise<void> {
    for (let i = 1; !abort.signal.aborted; i++) {
      const expected = i === 1 ? o.corpus.expected() : o.corpus.advance();
      const label = `soak-${o.run}-i${i}`;
      try {
        await o.db.query(
          `with t as (select app.trigger_ingest(true, $1) as request_id)
           insert into soak.ingest_triggers (label, version, expected, request_id)
           select $1, $2, $3, request_id from t`,
          [label, o.corpus.version, JSON.stringify(expected)],
        );
        counts.ingest.inserted++;
      } catch (err) {
        o.log("ingest trigger failed", { label, error: (err as Error).message });
        // The database may have died as the trigger committed: then the run is on its way.
        if (!(await committed(label))) {
          counts.ingest.failed++;
          continue;
        }
        counts.ingest.inserted++;
      }
      lastRun = { label };
      await follow(label);
      if (abort.signal.aborted) return;
      await checkRun(lastRun).catch((err) => o.log("ingest check failed", { error: (err as Error).message }));
      await sleep(o.ingestRnd.int(15_000, 30_000), abort.signal);
    }
  }

  const loops = Promise.all([rows(), ingest()]);
  return {
    counts,
    async stop() {
      abort.abort();
      await loops;
    },
    async checkLastRun() {
      if (!lastRun) return;
      const { rows: r } = await o.db.query<{ run_id: string | null; status: string | null }>(TRIGGER_STATE, [
        lastRun.label,
      ]);
      await checkRun({
        label: lastRun.label,
        runId: r[0]?.run_id ?? undefined,
        status: r[0]?.status ?? undefined,
      });
    },
  };
}
