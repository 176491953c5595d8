// Carries requests to the store in batches. A request issued while the store is busy with earlier
// ones waits for the next call of resonate.resonate_batch, together with everything else issued
// meanwhile (fan-out branches, other workflows): one round trip and one commit for all of them, each
// answered as if sent alone. A request issued when a connection is free goes at once, so a lone
// sequential workflow never waits for company.
import type { Request, Response } from "@resonatehq/sdk";
import { compact, type Expanded, expand, loneStep } from "./step-pairs.ts";

export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** Requests that must reach the store in this order, in one call: a later one may depend on an
 *  earlier one (a step's start, then its result). */
export type Unit = Request[];

interface Pending {
  unit: Unit;
  answered: Response[];
  conflicts: number;
  /** Sent as the SDK wrote it, not in compact form: the store declined a step in compact form. */
  full: boolean;
  /** Goes in a call of its own: a call it shared failed on one unit's error. */
  alone: boolean;
  resolve(res: Response[]): void;
  reject(err: unknown): void;
}

/** Requests per call: each is a subtransaction, and beyond 64 open subtransactions other sessions'
 *  snapshots must consult pg_subtrans. A unit larger than this still goes whole, alone. */
const MAX_REQUESTS = 64;
/** resonate_rpc gives up on a conflict after ten attempts too. */
const MAX_CONFLICTS = 10;
/** Deadlock, lock timeout, serialization failure. */
const LOCK_CONFLICTS = new Set(["40P01", "55P03", "40001"]);

export interface BatchStats {
  /** Calls of resonate_batch, each one round trip and one commit. */
  roundTrips: number;
  /** Requests they carried. */
  requests: number;
}

export class Batches {
  readonly stats: BatchStats = { roundTrips: 0, requests: 0 };
  private readonly db: Queryable;
  private readonly maxInFlight: number;
  private readonly queue: Pending[] = [];
  private inFlight = 0;

  constructor(db: Queryable, maxInFlight: number) {
    this.db = db;
    this.maxInFlight = maxInFlight;
  }

  /** Answers for the unit's requests, in order. Rejects only when the call itself fails (the
   *  database is unreachable), as a single query would. */
  send(unit: Unit): Promise<Response[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ unit, answered: [], conflicts: 0, full: false, alone: false, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch: Pending[] = [this.queue.shift()!];
      let size = batch[0]!.unit.length;
      // A unit that met a conflict goes alone, so it cannot meet one again through its company.
      const company = (p: Pending) => p.conflicts === 0 && !p.alone;
      while (
        company(batch[0]!) &&
        this.queue.length > 0 &&
        company(this.queue[0]!) &&
        size + this.queue[0]!.unit.length <= MAX_REQUESTS
      ) {
        const next = this.queue.shift()!;
        batch.push(next);
        size += next.unit.length;
      }
      this.inFlight++;
      void this.call(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async call(batch: Pending[]): Promise<void> {
    let answers: Expanded[];
    try {
      answers = await this.query(batch);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      // A local step's fused pair met a lock conflict: the whole call failed before committing anything.
      if (typeof code === "string" && LOCK_CONFLICTS.has(code)) for (const p of batch) this.retry(p);
      // The database refused the statement, so nothing of it is committed, but one unit's request can
      // cause that (a string jsonb does not take, an error in a step's fast path, which has no
      // subtransaction of its own): each unit goes again alone, so only its own cause fails it. A call
      // whose connection broke may have committed, and is not sent again here.
      else if (typeof code === "string" && batch.length > 1) {
        for (const p of batch) p.alone = true;
        this.queue.unshift(...batch);
      } else for (const p of batch) p.reject(err);
      return;
    }
    this.stats.roundTrips++;
    batch.forEach((p, i) => {
      const { answers: unitAnswers, declined } = answers[i]!;
      this.stats.requests += unitAnswers.filter((a) => a !== null).length;
      const stopped = unitAnswers.indexOf(null);
      if (stopped < 0) {
        p.resolve([...p.answered, ...(unitAnswers as Response[])]);
        return;
      }
      p.answered.push(...(unitAnswers.slice(0, stopped) as Response[]));
      p.unit = p.unit.slice(stopped);
      if (declined) {
        // Not a conflict: the rest goes with the next call, as written, for the store to answer in full.
        p.full = true;
        this.queue.unshift(p);
        return;
      }
      // A lock conflict with another session: what ran is committed, the rest goes again shortly,
      // once the other side has had its turn.
      this.retry(p);
    });
  }

  /** Sends the rest of a unit again shortly, alone, once the other side of its conflict has had its turn. */
  private retry(p: Pending): void {
    if (++p.conflicts >= MAX_CONFLICTS) {
      p.resolve([...p.answered, ...p.unit.map(conflictAnswer)]);
      return;
    }
    setTimeout(
      () => {
        this.queue.unshift(p);
        this.pump();
      },
      Math.random() * 2 * p.conflicts,
    );
  }

  private async query(batch: Pending[]): Promise<Expanded[]> {
    // A request alone goes through resonate_rpc, the store's own single-request entry point: no
    // batch to hold locks across, so it may wait out a conflict and retry there.
    if (batch.length === 1 && batch[0]!.unit.length === 1) {
      const { rows } = await this.db.query("select resonate.resonate_rpc($1::jsonb) as res", [
        JSON.stringify(batch[0]!.unit[0]),
      ]);
      return [{ answers: [(rows[0] as { res: Response }).res], declined: false }];
    }
    // Local steps' pairs in compact form (step-pairs.ts), unless the store declined them that way.
    const units = batch.map((p) =>
      p.full ? { wire: p.unit, segments: p.unit.map((request) => ({ request })) } : compact(p.unit),
    );
    // A sequential step alone: its own entry point, with typed arguments. Null means declined.
    const step = units.length === 1 ? loneStep(units[0]!) : undefined;
    if (step) {
      const { rows } = await this.db.query(
        "select resonate.resonate_step($1, $2, $3, $4, $5, $6, $7, $8) as at",
        step,
      );
      const at = (rows[0] as { at: string | null }).at;
      return [expand(units[0]!.segments, [at === null ? [] : [Number(at)]])];
    }
    const { rows } = await this.db.query("select resonate.resonate_batch($1::jsonb) as res", [
      JSON.stringify(units.map((u) => u.wire)),
    ]);
    const answers = (rows[0] as { res: (unknown[] | null)[] }).res;
    return units.map((u, i) => expand(u.segments, answers[i] ?? null));
  }
}

/** What resonate_rpc answers when a conflict outlasts its retries. */
function conflictAnswer(req: Request): Response {
  return {
    kind: req.kind,
    head: { corrId: req.head.corrId, status: 500, version: req.head.version },
    data: "lock conflict persisted after retries",
  } as Response;
}
