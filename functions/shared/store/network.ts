// The app's Network for the `resonate` schema: the SDK's public Network interface (init, stop, send,
// recv, match, unicast, anycast) over the schema's SQL entry points, and everything a worker needs
// around it, so nothing reaches into the SDK: its own database sessions (which survive a database
// restart), a start that retries until the database answers, a concurrency cap (it takes no more
// execute messages than the worker may run), a graceful stop (take nothing new, let running tasks
// finish, release the rest) and a sweep of tasks held under its id that it no longer runs.
//
// Requests travel in batches (batches.ts), a local step's create travels with its result
// (steps.ts), and a worker's liveness is its registered session (mailbox.ts), so peers resume a
// killed worker's tasks within a tick instead of after its lease.
import { randomUUID } from "node:crypto";
import type { Message, Network, Request, Response } from "@resonatehq/sdk";
import { Batches, type BatchStats } from "./batches.ts";
import { Executions, type HeldTask, releasedHere } from "./executions.ts";
import { Mailbox, type TickRow } from "./mailbox.ts";
import { Sessions } from "./sessions.ts";
import { type StepStats, Steps } from "./steps.ts";

export interface StoreLog {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
}

export interface StoreNetworkOptions {
  connectionString: string;
  group: string;
  pid?: string;
  /** Fallback interval of the delivery tick, ms (a notification takes messages at once). */
  tickMs?: number;
  /** The most execute messages this process runs at once. */
  concurrency?: number;
  /** Connections for requests, so as many batches can be in flight. */
  connections?: number;
  /** How often the held-task sweep looks, ms. */
  sweepMs?: number;
  /** A local step running longer than this is recorded as started while it runs, ms. */
  startedAfterMs?: number;
  /** Whether a local step's create may travel with its result (steps.ts). Off only where each
   *  request's answer must come from the store itself, as in the request-level differential test. */
  deferSteps?: boolean;
  /** Whether a task the SDK gives up before running any of it is left to its lease instead of
   *  released (Executions.givesUpUnstarted). Off only where each request's answer must come from the
   *  store itself, as in the request-level differential test. */
  leaveUnstartedToLease?: boolean;
  log?: StoreLog;
  /** Called each time the store's session comes up. */
  onReady?: () => void;
}

export interface StoreStats extends BatchStats, StepStats {}

/** How often the held-task sweep looks by default (a task must look orphaned twice in a row to be released). */
const SWEEP_MS = 5_000;
/** How long a step result answered before it was committed is tried again when its write fails: a
 *  database restart's worth; beyond it the result goes with the workflow's next request. */
const WRITE_RETRY_MS = 10_000;
/** How soon an execute message taken by a worker that dies before acquiring its task is offered again. */
const CLAIM_MS = 2_000;

export class StoreNetwork implements Network {
  readonly unicast: string;
  readonly anycast: string;
  readonly pid: string;
  private readonly sessions: Sessions;
  private readonly batches: Batches;
  private readonly steps: Steps;
  private readonly executions: Executions;
  private readonly mailbox: Mailbox;
  private readonly concurrency: number;
  private readonly sweepMs: number;
  private readonly leaveUnstartedToLease: boolean;
  private readonly log: StoreLog;
  private readonly receivers: ((msg: Message) => void)[] = [];
  private initialized = false;
  private stopped = false;
  private sweeper: ReturnType<typeof setInterval> | undefined;
  /** Tasks the last sweep found held under this id and not running here, with their versions. */
  private suspects = new Map<string, number>();

  constructor(opts: StoreNetworkOptions) {
    this.pid = opts.pid ?? randomUUID().replaceAll("-", "");
    // The address shapes of the SDK's PostgresNetwork, so both kinds of worker can share a group.
    this.unicast = `poll://uni@${opts.group}/${this.pid}`;
    this.anycast = `poll://any@${opts.group}`;
    this.concurrency = opts.concurrency ?? 100;
    this.sweepMs = opts.sweepMs ?? SWEEP_MS;
    this.leaveUnstartedToLease = opts.leaveUnstartedToLease ?? true;
    this.log = opts.log ?? consoleLog;
    const connections = opts.connections ?? 4;
    this.sessions = new Sessions({
      connectionString: opts.connectionString,
      size: connections,
      onLost: (err) => this.log.warn("durable store session lost", { error: err.message }),
    });
    this.batches = new Batches(this.sessions, connections);
    this.executions = new Executions(
      () => this.mailbox.wake(),
      (task, error) =>
        this.log.warn("acquired a task whose promise the SDK cannot decode; left to its lease", {
          task: task.id,
          version: task.version,
          error,
        }),
    );
    this.steps = new Steps({
      send: (unit) => this.batches.send(unit),
      defer: opts.deferSteps ?? true,
      leaseHolds: (id, version) => this.executions.leaseHolds(id, version),
      mayStartSteps: (id, version) => this.executions.mayStartSteps(id, version),
      startedAfterMs: opts.startedAfterMs ?? 100,
      writeRetryMs: WRITE_RETRY_MS,
      warn: (event, fields) => this.log.warn(event, fields),
    });
    this.mailbox = new Mailbox({
      connectionString: opts.connectionString,
      pid: this.pid,
      anycast: this.anycast,
      unicast: this.unicast,
      tickMs: opts.tickMs ?? 250,
      claimMs: CLAIM_MS,
      freeSlots: () => Math.max(0, this.concurrency - this.executions.slotsUsed()),
      keep: () => this.executions.keep(),
      deliver: (rows) => this.deliver(rows),
      onConnected: (attempts, released) => {
        this.executions.sessionBack();
        if (attempts > 1) this.log.info("durable store reachable; taking work", { attempts });
        if (released.length > 0) this.reportOrphans(released);
        opts.onReady?.();
      },
      onLost: () => this.executions.sessionLost(),
      warn: (event, fields) => this.log.warn(event, fields),
    });
  }

  match(target: string): string {
    return `poll://any@${target}`;
  }

  /** Resolves once the store's session is up; retries meanwhile, so a worker started while its
   *  database is down takes work as soon as it answers. The SDK does not await this. */
  async init(): Promise<void> {
    this.initialized = true;
    this.sweeper ??= setInterval(() => void this.sweep(), this.sweepMs);
    this.sweeper.unref?.();
    await this.mailbox.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweeper) clearInterval(this.sweeper);
    await this.mailbox.close();
    await this.sessions.end();
  }

  // An arrow property: the SDK calls `send` detached from the network object.
  send = (async (req: Request): Promise<Response> => {
    if (req.kind === "task.release" && this.leaveUnstartedToLease && this.executions.givesUpUnstarted(req)) {
      this.log.warn("the SDK gave up a task before running any of it; left to its lease, not released", {
        task: req.data.id,
        version: req.data.version,
      });
      const res = releasedHere(req);
      // Ends the task's record of steps, as the store's answer would: the execution sent none.
      this.steps.observe(req, res);
      return res;
    }
    return this.forward(req);
  }) as Network["send"];

  /** Sends a request to the store, observing it on the way: the SDK's, and this network's own. */
  private async forward(req: Request): Promise<Response> {
    const outcome = this.executions.track(req);
    let res: Response;
    try {
      res = await this.steps.send(req);
    } catch (err) {
      outcome(undefined);
      this.steps.observe(req, undefined);
      throw err;
    }
    // Executions first: whether an acquisition started an execution is its to decide (steps.ts asks).
    outcome(res);
    this.steps.observe(req, res);
    return res;
  }

  recv(callback: (msg: Message) => void): void {
    this.receivers.push(callback);
  }

  /** Whether the SDK took this network the way it was written for: a receiver, then init(). */
  attached(): boolean {
    return this.initialized && this.receivers.length > 0;
  }

  /** Whether the store's session is up: registered, listening, taking messages. */
  get ready(): boolean {
    return this.mailbox.ready;
  }

  /** Executions in this process, including acquires and creates still in flight. */
  active(): number {
    return this.executions.active();
  }

  stats(): StoreStats {
    return { ...this.batches.stats, ...this.steps.stats };
  }

  /**
   * Graceful stop, first half: takes no new task, gives the running ones until the deadline, then
   * releases whatever this worker still holds so another worker resumes it at once. Fencing keeps
   * that safe: a released task's late steps are refused. Returns the released task ids; stop()
   * follows.
   */
  async drain(graceMs: number): Promise<string[]> {
    const deadline = Date.now() + graceMs;
    // A tick under way may still hand over execute messages: they are in-flight tasks too.
    await settledWithin(this.mailbox.stopExecutes(), graceMs);
    if (this.executions.active() > 0)
      this.log.info("finishing in-flight tasks", {
        tasks: this.executions.keep(),
        in_process: this.executions.active(),
        grace_ms: graceMs,
      });
    while (this.executions.active() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const held = await this.heldInStore().catch(() => this.executions.held());
    const released = await this.release(held, "shutdown");
    if (released.length > 0) this.log.warn("released unfinished tasks to other workers", { tasks: released });
    return released;
  }

  private deliver(rows: TickRow[]): void {
    for (const r of rows) {
      let msg: Message;
      if (r.kind === "execute") {
        this.executions.deliver(r.task_id!);
        msg = { kind: "execute", head: {}, data: { task: { id: r.task_id!, version: r.version! } } };
      } else {
        msg = { kind: "unblock", head: {}, data: { promise: r.promise as never } };
      }
      for (const receive of this.receivers) receive(msg);
    }
  }

  private async heldInStore(): Promise<HeldTask[]> {
    const { rows } = await this.sessions.query("select id, version from resonate.held_tasks($1)", [this.pid]);
    return rows as HeldTask[];
  }

  /** Releases each task at its version; returns the ids the store released (a task settled or taken
   *  over meanwhile is refused by its fence and skipped). */
  private async release(tasks: HeldTask[], reason: string): Promise<string[]> {
    const answers = await Promise.all(
      tasks.map((t) =>
        this.forward({
          kind: "task.release",
          head: { corrId: `${reason}-${this.pid}-${t.id}-${t.version}`, version: "2026-04-01" },
          data: { id: t.id, version: t.version },
        }).then(
          (res) => (res.head.status === 200 ? t.id : undefined),
          () => undefined,
        ),
      ),
    );
    return answers.filter((id): id is string => id !== undefined);
  }

  /**
   * Tasks the store shows held under this id that this process does not run: executions that ended
   * while the database was away (their release failed the same way) or whose acquire answer was
   * lost. Released once seen twice in a row at the same version, so an acquire whose answer is still
   * on its way is never mistaken for one.
   */
  private async sweep(): Promise<void> {
    if (this.stopped || !this.mailbox.ready) return;
    try {
      const keep = new Set(this.executions.keep());
      const unrun = (await this.heldInStore()).filter((t) => !keep.has(t.id));
      const orphans = unrun.filter((t) => this.suspects.get(t.id) === t.version);
      this.suspects = new Map(unrun.filter((t) => !orphans.includes(t)).map((t) => [t.id, t.version]));
      const released = await this.release(orphans, "orphan");
      if (released.length > 0) this.reportOrphans(released);
    } catch {
      // The database is away; the next sweep looks again.
    }
  }

  private reportOrphans(tasks: string[]): void {
    this.log.warn("released tasks held under this worker id that it is not running", { tasks });
  }
}

const consoleLog: StoreLog = {
  info: (event, fields) => console.log(JSON.stringify({ level: "info", event, ...fields })),
  warn: (event, fields) => console.warn(JSON.stringify({ level: "warn", event, ...fields })),
};

/** Waits for `p`, but no longer than `ms`. */
async function settledWithin(p: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
