// The faults, on a schedule drawn from the seed: a worker SIGKILLed every 15-30 s (its supervisor
// brings it back), and once each, at times spread over the first 60% of the load so their effects are
// over before it ends: an immediate-mode Postgres restart, a crash of the functions server, a crash of
// the pooler, and 20 concurrent duplicate deliveries of one row's webhook. Beyond the list, one
// worker is paused (SIGSTOP) past its task lease and then resumed: a worker stalled by the machine or cut
// off from the database comes back still running steps that another worker has taken over, which only
// fencing and idempotent writes make harmless; a SIGKILL never tests that. Each fault is recorded with
// what it interrupted and when the stack answered again.
import type pg from "pg";
import { FUNCTIONS_URL, stackEnv } from "../stack/env.ts";
import { poolerHealthy } from "../stack/pooler.ts";
import { crashRestartPostgres, isAccepting } from "../stack/postgres.ts";
import { runningPid } from "../stack/processes.ts";
import { crash, memoryKiB } from "./procs.ts";
import type { Random } from "./random.ts";
import type { SoakWorker } from "./workers.ts";

export interface Fault {
  seq: number;
  kind: "kill" | "postgres-restart" | "functions-crash" | "pooler-crash" | "webhook-burst" | "worker-pause";
  at: Date;
  /** When the stack answered again (Postgres, functions or pooler health); kills are measured later. */
  recoveredAt?: Date;
  detail: Record<string, unknown>;
}

export interface Faults {
  log: Fault[];
  /** Stops scheduling; resolves when the fault in progress, if any, is over. */
  stop(): Promise<void>;
}

export interface FaultOptions {
  db: pg.Pool;
  rnd: Random;
  loadMs: number;
  /** The workers' task lease (RESONATE_TTL_MS): the pause outlasts it. */
  leaseMs: number;
  workers: SoakWorker[];
  say: (event: string, fields?: Record<string, unknown>) => void;
}

const BURST = 20;

async function until(check: () => Promise<boolean>, timeoutMs = 120_000): Promise<Date | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return new Date();
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

async function functionsHealthy(): Promise<boolean> {
  try {
    const res = await fetch(`${FUNCTIONS_URL}/health`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/** Times for the one-off faults: one slot each of 10-60% of the load, drawn within the slot but 10 s
 * before its end (when slots are that long), so one fault is over before the next. */
function oneOffTimes(rnd: Random, loadMs: number, n: number): number[] {
  const slot = (loadMs * 0.5) / n;
  return Array.from(
    { length: n },
    (_, i) => loadMs * 0.1 + slot * i + rnd.next() * Math.max(0, slot - 10_000),
  );
}

export function startFaults(o: FaultOptions): Faults {
  const log: Fault[] = [];
  const started = Date.now();
  const timers: NodeJS.Timeout[] = [];
  let current: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const record = (kind: Fault["kind"], detail: Record<string, unknown> = {}): Fault => {
    const f: Fault = { seq: log.length + 1, kind, at: new Date(), detail };
    log.push(f);
    o.say(kind, detail);
    return f;
  };
  // One fault at a time: a kill during the Postgres restart would find no tasks to record.
  const run = (fn: () => Promise<void>) => {
    current = current
      .then(() => (stopped ? undefined : fn()))
      .catch((err) => o.say("fault failed", { error: String(err) }));
  };

  const pauseMs = o.leaseMs + 10_000;
  let paused: { worker: SoakWorker; pid: number; fault: Fault; timer: NodeJS.Timeout } | undefined;

  // Workers that are up: one between its supervisor's restarts has nothing to kill or pause, and a
  // paused one is left to wake up on its own (killed, it would release what it holds).
  const running = () => o.workers.filter((x) => x !== paused?.worker && x.pid() !== undefined);

  async function killWorker(): Promise<void> {
    const up = running();
    if (up.length === 0) return;
    const w = o.rnd.pick(up);
    const pid = w.pid();
    if (pid === undefined) return;
    // What it held when it died: the workflows whose recovery is measured.
    const held = await o.db
      .query<{ id: string }>("select id from resonate.tasks where state = 'acquired' and pid = $1", [w.id])
      .then((r) => r.rows.map((t) => t.id))
      .catch(() => null);
    const peakKiB = memoryKiB(pid)?.hwm;
    crash(w.supervisor);
    record("kill", { worker: w.id, pid, held, peak_rss_kib: peakKiB });
  }

  async function restartPostgres(): Promise<void> {
    const f = record("postgres-restart");
    await crashRestartPostgres();
    f.recoveredAt = await until(isAccepting);
  }

  async function crashServer(kind: "functions-crash" | "pooler-crash"): Promise<void> {
    const name = kind === "functions-crash" ? "functions" : "pooler";
    const supervisor = runningPid(name);
    if (supervisor === undefined) throw new Error(`the stack's ${name} is not running`);
    const f = record(kind, { pids: crash(supervisor) });
    // Let the crash be noticed before asking: a dying server may still answer for a moment.
    await new Promise((r) => setTimeout(r, 200));
    f.recoveredAt = await until(name === "functions" ? functionsHealthy : poolerHealthy);
  }

  function resume(): void {
    if (!paused) return;
    clearTimeout(paused.timer);
    try {
      process.kill(paused.pid, "SIGCONT");
    } catch {
      // Gone meanwhile.
    }
    paused.fault.recoveredAt = new Date();
    o.say("worker-resume", { worker: paused.worker.id, pid: paused.pid });
    paused = undefined;
  }

  /** Stops the busiest worker for longer than its lease, so the other one takes its workflows over. */
  async function pauseWorker(): Promise<void> {
    // Both may be restarting after kills; the pause waits for one to be up rather than not happen.
    const deadline = Date.now() + 30_000;
    while (running().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const up = running();
    if (up.length === 0) throw new Error("no worker came up to pause");
    const { rows } = await o.db.query<{ pid: string; held: string[] }>(
      `select pid, array_agg(id) as held from resonate.tasks where state = 'acquired' and pid = any($1)
        group by pid order by count(*) desc limit 1`,
      [up.map((w) => w.id)],
    );
    const w = up.find((x) => x.id === rows[0]?.pid) ?? up[0]!;
    const pid = w.pid();
    if (pid === undefined) throw new Error(`${w.id} went away before it could be paused`);
    process.kill(pid, "SIGSTOP");
    const fault = record("worker-pause", { worker: w.id, pid, held: rows[0]?.held ?? [], ms: pauseMs });
    paused = { worker: w, pid, fault, timer: setTimeout(resume, pauseMs) };
  }

  /** The newest image request, delivered 20 more times at once, racing its trigger's own delivery. */
  async function burst(): Promise<void> {
    const { rows } = await o.db.query<{ id: string; record: Record<string, unknown> }>(
      `select q.id, to_jsonb(q) as record from soak.rows r join public.image_requests q on q.id = r.id
        where r.kind = 'images' order by q.created_at desc limit 1`,
    );
    const row = rows[0];
    if (!row) throw new Error("no image request to deliver again");
    const body = JSON.stringify({
      type: "INSERT",
      table: "image_requests",
      schema: "public",
      record: row.record,
      old_record: null,
    });
    const f = record("webhook-burst", { row: row.id });
    const answers = await Promise.all(
      Array.from({ length: BURST }, async () => {
        try {
          const res = await fetch(`${FUNCTIONS_URL}/images-webhook`, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              authorization: `Bearer ${stackEnv().WEBHOOK_SECRET}`,
            },
            body,
          });
          const text = await res.text();
          return {
            status: res.status,
            workflow_id: (JSON.parse(text) as { workflow_id?: string }).workflow_id,
          };
        } catch (err) {
          return { status: 0, error: (err as Error).message };
        }
      }),
    );
    f.detail.answers = answers;
    f.recoveredAt = new Date();
  }

  const schedule = (atMs: number, fn: () => Promise<void>) =>
    timers.push(setTimeout(() => run(fn), Math.max(0, atMs - (Date.now() - started))));
  for (let t = o.rnd.int(15_000, 30_000); t < o.loadMs; t += o.rnd.int(15_000, 30_000))
    schedule(t, killWorker);
  const oneOffs = [
    restartPostgres,
    () => crashServer("functions-crash"),
    () => crashServer("pooler-crash"),
    burst,
  ];
  // Their order is drawn too, so different seeds hit different moments of each.
  for (let i = oneOffs.length - 1; i > 0; i--) {
    const j = o.rnd.int(0, i);
    [oneOffs[i], oneOffs[j]] = [oneOffs[j]!, oneOffs[i]!];
  }
  const times = oneOffTimes(o.rnd, o.loadMs, oneOffs.length);
  for (const [i, fn] of oneOffs.entries()) schedule(times[i]!, fn);
  // The pause must end before the load does, so the paused worker wakes among live work.
  const latest = Math.max(o.loadMs * 0.1, Math.min(o.loadMs * 0.6, o.loadMs - pauseMs - 10_000));
  schedule(o.loadMs * 0.1 + o.rnd.next() * (latest - o.loadMs * 0.1), pauseWorker);

  return {
    log,
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      await current;
      resume();
    },
  };
}
