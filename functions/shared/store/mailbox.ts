// The worker's one long-lived session with the store: it registers the worker (the session itself is
// the proof of life peers read, see resonate.worker_register), LISTENs on the worker's two addresses,
// and on every notification and every tick takes its messages with one call of resonate.worker_tick:
// due timers, dead peers' tasks released, at most as many execute messages as the worker has free
// slots, and its unblock messages. It connects with retries and reconnects after losing the session.
import pg from "pg";
import { CONNECT_TIMEOUT_MS } from "./sessions.ts";

export interface TickRow {
  kind: "execute" | "unblock";
  task_id: string | null;
  version: number | null;
  promise: unknown;
}

export interface MailboxOptions {
  connectionString: string;
  pid: string;
  anycast: string;
  unicast: string;
  tickMs: number;
  /** How long opening a connection may take before it counts as a failed attempt: a
   *  database behind a dead route or a hung proxy never answers, and no retry would ever be logged. */
  connectTimeoutMs?: number;
  /** How soon an execute taken by a worker that dies before acquiring its task is offered again. */
  claimMs: number;
  /** How many execute messages the process may take now. */
  freeSlots(): number;
  /** Tasks the process runs or is acquiring: a (re)registration releases the others held under its id. */
  keep(): string[];
  deliver(rows: TickRow[]): void;
  onConnected(attempts: number, released: string[]): void;
  /** The session is gone: until it is back, peers may take this process for dead and release its tasks. */
  onLost(): void;
  warn(event: string, fields: Record<string, unknown>): void;
}

/** Unblocks taken per tick; a full batch means more may be waiting. */
const UNBLOCKS_PER_TICK = 1000;

export class Mailbox {
  private readonly opts: MailboxOptions;
  private client: pg.Client | undefined;
  private connected = false;
  private stopped = false;
  private takingExecutes = true;
  private draining = false;
  private redrain = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private connecting: Promise<void> | undefined;
  /** The tick under way, or the last one; it never rejects. */
  private ticking: Promise<void> = Promise.resolve();
  /** The wait before the next attempt to connect: close() ends it, so a mailbox that never reached its
   *  database does not keep the process alive. */
  private retryWait: { timer: ReturnType<typeof setTimeout>; done: () => void } | undefined;

  constructor(opts: MailboxOptions) {
    this.opts = opts;
  }

  /** Whether the session is up: the worker is registered and takes messages. */
  get ready(): boolean {
    return this.connected;
  }

  /** Connects, retrying until it succeeds or the mailbox is closed. */
  start(): Promise<void> {
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** Takes messages soon (coalesced with a tick already running). */
  wake(): void {
    void this.drain();
  }

  /** Takes no more execute messages; unblocks still arrive and the registration stays alive. Resolves
   *  once a tick already under way, which may be taking some, has handed them over. */
  stopExecutes(): Promise<void> {
    this.takingExecutes = false;
    return this.ticking;
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.connected = false;
    if (this.timer) clearTimeout(this.timer);
    if (this.retryWait) {
      clearTimeout(this.retryWait.timer);
      this.retryWait.done();
    }
    await this.client?.end().catch(() => {});
  }

  private async connect(): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      const client = new pg.Client({
        connectionString: this.opts.connectionString,
        connectionTimeoutMillis: this.opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
      });
      // Listened to from the start: a connection broken while it registers is otherwise an unhandled
      // 'error' event, which ends the process.
      let broken: Error | undefined;
      const onBroken = (err: Error) => {
        broken ??= err;
        this.lost(client, err);
      };
      client.on("error", onBroken);
      client.on("end", () => onBroken(new Error("connection ended")));
      try {
        await client.connect();
        const { rows } = await client.query<{ released: string[] }>(
          "select resonate.worker_register($1, $2, $3, $4) as released",
          [this.opts.pid, this.opts.anycast, this.opts.unicast, this.opts.keep()],
        );
        // Broken after it answered: lost() ignored it, since it was not this.client yet.
        if (broken) throw broken;
        if (this.stopped) {
          await client.end();
          return;
        }
        client.on("notification", () => this.wake());
        this.client = client;
        this.connected = true;
        this.opts.onConnected(attempt, rows[0]!.released);
        // Not awaited: until start()'s promise settles, a loss this tick meets could not start a new
        // connection (lost() would get this one back from start()).
        void this.drain();
        return;
      } catch (err) {
        await client.end().catch(() => {});
        if (this.stopped) return;
        const retryInMs = Math.min(500 * attempt, 5_000);
        this.opts.warn("durable store unreachable; retrying", {
          error: (err as Error).message,
          attempt,
          retry_in_ms: retryInMs,
        });
        await new Promise<void>((done) => {
          this.retryWait = { timer: setTimeout(done, retryInMs), done };
        });
        this.retryWait = undefined;
      }
    }
  }

  private lost(client: pg.Client, err: Error): void {
    if (this.client !== client || this.stopped) return;
    this.client = undefined;
    this.connected = false;
    client.end().catch(() => {});
    this.opts.onLost();
    this.opts.warn("durable store connection lost; reconnecting", { error: err.message });
    void this.start();
  }

  private async drain(): Promise<void> {
    const client = this.client;
    if (!client || !this.connected || this.stopped) return;
    if (this.draining) {
      this.redrain = true;
      return;
    }
    this.draining = true;
    this.ticking = this.tick(client);
    await this.ticking;
    this.draining = false;
    if (this.redrain) {
      this.redrain = false;
      void this.drain();
    }
    this.schedule();
  }

  private async tick(client: pg.Client): Promise<void> {
    try {
      const { rows } = await client.query<TickRow>(
        "select kind, task_id, version, promise from resonate.worker_tick($1, $2, $3, $4, $5)",
        [
          this.opts.pid,
          this.opts.anycast,
          this.opts.unicast,
          this.takingExecutes ? this.opts.freeSlots() : 0,
          this.opts.claimMs,
        ],
      );
      this.opts.deliver(rows);
      if (rows.filter((r) => r.kind === "unblock").length >= UNBLOCKS_PER_TICK) this.redrain = true;
    } catch (err) {
      if (!this.stopped && this.client === client)
        this.opts.warn("durable store tick failed", { error: (err as Error).message });
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.drain(), this.opts.tickMs);
  }
}
