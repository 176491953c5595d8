// Which tasks this process is running, read off the requests the SDK sends through the network: the
// SDK's public interface does not say when an execution ends, but its requests do. An execution
// starts with a task.acquire (an execute message) or a task.create (an in-process run) answered 200,
// and ends when the SDK fulfills, suspends (200) or releases the task, or when the acquire is refused.
// An acquisition the SDK ends without another request (see silentEnd) starts none, and one it gives up
// before running any of it (see givesUpUnstarted) ends unreleased: their tasks are left to their
// lease. The worker's concurrency cap, graceful stop and orphan sweep all count from here.
import { Codec, isSuccess, type Request, type Response } from "@resonatehq/sdk";

export interface HeldTask {
  id: string;
  version: number;
}

interface Running {
  version: number;
  /** Started by an execute message this process delivered, so it occupies a concurrency slot. */
  slotted: boolean;
  ttl: number;
  /** performance.now() before which the store's lease surely still holds. */
  leaseUntil: number;
  /** Losses of the mailbox's session counted when this execution's acquisition was sent (-1: the session
   *  was away then); any loss since leaves it behind the count. */
  lossesAtAcquire: number;
  /** Whether the SDK has sent anything concerning the task since its acquisition (a fence, a suspend,
   *  a fulfill): whether it started running it. */
  progressed: boolean;
}

/** A delivered execute message whose acquire the SDK has not sent within this long is given up. */
const UNACQUIRED_MS = 10_000;

/** The codec the SDK decodes with as createClient builds it: the default one, no encryptor. */
const SDK_CODEC = new Codec();

export class Executions {
  /** Execute messages delivered whose acquire the SDK has not sent yet, by task id, with when each was
   *  delivered. */
  private readonly delivered = new Map<string, number[]>();
  /** Delivered messages whose acquire is in flight, by task id: each keeps its slot until answered,
   *  however long the store takes. */
  private readonly acquiring = new Map<string, number>();
  /** task.create requests in flight: the store may already show their task held by this process. */
  private readonly creating = new Map<string, number>();
  private readonly running = new Map<string, Running>();
  /** Tasks acquired here that the SDK dropped without a word, with the moment (performance.now())
   *  their lease ends by this process's clock: kept from the sweep until then. */
  private readonly leftToLease = new Map<string, number>();
  private readonly onSlotFree: () => void;
  private readonly onUndecodable: (task: HeldTask, error: string) => void;
  /** Losses of the mailbox's session so far, and whether it is registered again since the last. */
  private losses = 0;
  private sessionUp = true;

  /** `onUndecodable`: a task was acquired whose promise the SDK cannot decode, so it never runs it. */
  constructor(onSlotFree: () => void, onUndecodable: (task: HeldTask, error: string) => void = () => {}) {
    this.onSlotFree = onSlotFree;
    this.onUndecodable = onUndecodable;
  }

  /** Executions that occupy a concurrency slot: delivered messages not yet refused or finished. */
  slotsUsed(): number {
    this.forgetUnacquired();
    let n = 0;
    for (const times of this.delivered.values()) n += times.length;
    for (const k of this.acquiring.values()) n += k;
    for (const r of this.running.values()) if (r.slotted) n++;
    return n;
  }

  /** Executions of any kind in this process, including acquires and creates still in flight. */
  active(): number {
    let n = this.slotsUsed() + this.creating.size;
    for (const r of this.running.values()) if (!r.slotted) n++;
    return n;
  }

  /** Task ids this process runs, may hold any moment now, or leaves to their lease; never to be
   *  released by a sweep. */
  keep(): string[] {
    this.forgetLapsed();
    return [
      ...new Set([
        ...this.delivered.keys(),
        ...this.acquiring.keys(),
        ...this.creating.keys(),
        ...this.running.keys(),
        ...this.leftToLease.keys(),
      ]),
    ];
  }

  /** The tasks this process is running, at the versions it acquired them. */
  held(): HeldTask[] {
    return [...this.running].map(([id, r]) => ({ id, version: r.version }));
  }

  /** Whether the store's lease on this execution surely still holds, by this process's clock. */
  leaseHolds(id: string, version: number): boolean {
    const r = this.running.get(id);
    return r !== undefined && r.version === version && performance.now() < r.leaseUntil;
  }

  /** Whether a new step of this execution may start without the store's fence: its lease holds and the
   *  mailbox's session was up when it was acquired and has not been lost since, so no peer can have
   *  released its task (see sessionLost). */
  mayStartSteps(id: string, version: number): boolean {
    return this.leaseHolds(id, version) && this.running.get(id)?.lossesAtAcquire === this.losses;
  }

  /** The mailbox's session was lost: meanwhile peers may take this process for dead and release its
   *  tasks, so the executions running now, and those acquired before it is back, start no step without
   *  the store's fence any more. */
  sessionLost(): void {
    this.losses++;
    this.sessionUp = false;
  }

  /** The mailbox's session is registered again: peers take this process for alive from now on. */
  sessionBack(): void {
    this.sessionUp = true;
  }

  /** An execute message is about to be handed to the SDK. */
  deliver(taskId: string): void {
    const times = this.delivered.get(taskId) ?? [];
    times.push(performance.now());
    this.delivered.set(taskId, times);
  }

  /**
   * Whether this release, sent by the SDK, gives up an execution before it sent anything concerning
   * its task: the SDK could not start running it (a function this process has not registered, a
   * param that is not a call) and releases it from its catch-all (core.js executeUntilBlocked). The
   * store would offer the task again at once, and a worker that cannot run it either would take and
   * release it again in a tight loop (about 40 times a second here). So the execution ends here and
   * its task is left to its lease instead (see leaveToLease); the caller answers the SDK, which
   * ignores the answer, and sends nothing. A release after the execution sent something is the SDK
   * reacting to a failed request (a fence, a suspend): the store or the task's state changed, and the
   * release goes to the store at once as before. Nothing of the execution waits to be written: it
   * sent nothing.
   */
  givesUpUnstarted(req: Request): boolean {
    if (req.kind !== "task.release") return false;
    const r = this.running.get(req.data.id);
    if (r?.version !== req.data.version || r.progressed) return false;
    this.leaveToLease(req.data.id, r.leaseUntil);
    return true;
  }

  /** Called with every request before it is sent; the returned function observes its outcome. */
  track(req: Request): (res: Response | undefined) => void {
    const sentAt = performance.now();
    // An acquisition may have been committed at any moment in between, so it is safe from peers only
    // if the session was up when it was sent and has not been lost since (-1 never matches).
    const lossesAtSend = this.sessionUp ? this.losses : -1;
    if (req.kind === "task.fence" || req.kind === "task.suspend" || req.kind === "task.fulfill") {
      const r = this.running.get(req.data.id);
      if (r?.version === req.data.version) r.progressed = true;
    }
    switch (req.kind) {
      case "task.acquire": {
        const id = req.data.id;
        const slotted = this.undeliver(id);
        if (slotted) count(this.acquiring, id, 1);
        return (res) => {
          if (slotted) count(this.acquiring, id, -1);
          if (res?.kind !== "task.acquire" || !isSuccess(res)) {
            if (slotted) this.onSlotFree();
            return;
          }
          const version = res.data.task.version;
          const silent = silentEnd(res);
          if (silent === undefined) {
            this.start(id, version, slotted, req.data.ttl, sentAt, lossesAtSend);
            return;
          }
          this.leaveToLease(id, sentAt + req.data.ttl);
          if (slotted) this.onSlotFree();
          if (silent.kind === "undecodable") this.onUndecodable({ id, version }, silent.error);
        };
      }
      case "task.create":
        count(this.creating, req.data.action.data.id, 1);
        return (res) => {
          const id = req.data.action.data.id;
          count(this.creating, id, -1);
          if (res?.kind === "task.create" && isSuccess(res) && res.data.task?.state === "acquired") {
            this.start(id, res.data.task.version, false, req.data.ttl, sentAt, lossesAtSend);
          }
        };
      case "task.fulfill":
      case "task.release":
        return () => this.end(req.data.id, req.data.version);
      case "task.suspend":
        // 300 means "an awaited promise already settled, keep going": the execution continues.
        return (res) => {
          if (res?.head.status !== 300) this.end(req.data.id, req.data.version);
        };
      case "task.heartbeat":
        return (res) => {
          if (res?.head.status !== 200) return;
          // The store answers 200 whether or not it renewed anything (a task released meanwhile renews
          // nothing), so an answer counts only for a lease that still held by this process's clock when
          // it came: the store's lease ends no sooner, so the heartbeat found the task still held.
          const now = performance.now();
          for (const t of req.data.tasks) {
            const r = this.running.get(t.id);
            if (r && r.version === t.version && now < r.leaseUntil) r.leaseUntil = sentAt + r.ttl;
          }
        };
      default:
        return () => {};
    }
  }

  private start(
    id: string,
    version: number,
    slotted: boolean,
    ttl: number,
    sentAt: number,
    lossesAtAcquire: number,
  ): void {
    this.forgetPrevious(id);
    this.running.set(id, {
      version,
      slotted,
      ttl,
      leaseUntil: sentAt + ttl,
      lossesAtAcquire,
      progressed: false,
    });
  }

  /**
   * A task this process acquired and will not run, and holds without a heartbeat (the SDK started
   * none, or stopped it when it gave up): the store's lease lapses and the store offers the task
   * again (a lease expiry is a release). That is the right fate for a task this process cannot run,
   * and the one the SDK itself chose for a timer that is not yet due: releasing it here would make the
   * store offer it again at once, and a worker that cannot run it either would take it again in a
   * tight loop; the lease spaces the attempts one lease apart, and a worker that can run it (another
   * codec, a fixed deployment) gets it after at most that long. Meanwhile it occupies no slot and no
   * drain waits for it, and the sweep leaves it alone until its lease ends by this process's clock (a
   * little before the store's, which counts from its commit; the sweep releases only what it saw
   * twice, a sweep interval apart, so the store's own expiry normally comes first either way).
   */
  private leaveToLease(id: string, leaseUntil: number): void {
    this.forgetPrevious(id);
    this.leftToLease.set(id, leaseUntil);
  }

  /** A new acquisition of a task this process was running means that execution lost the task (a
   *  lease lapsed, a release) and is being fenced off; its slot goes with its record. */
  private forgetPrevious(id: string): void {
    const previous = this.running.get(id);
    this.running.delete(id);
    this.leftToLease.delete(id);
    if (previous?.slotted) this.onSlotFree();
  }

  private forgetLapsed(): void {
    const now = performance.now();
    for (const [id, until] of this.leftToLease) if (now >= until) this.leftToLease.delete(id);
  }

  private end(id: string, version: number): void {
    const r = this.running.get(id);
    if (!r || r.version !== version) return;
    this.running.delete(id);
    if (r.slotted) this.onSlotFree();
  }

  /** Removes one delivered message for the task; whether there was one (a slot it occupied). */
  private undeliver(id: string): boolean {
    const times = this.delivered.get(id);
    if (!times) return false;
    times.shift();
    if (times.length === 0) this.delivered.delete(id);
    return true;
  }

  /** A delivered message the SDK never acted on must not hold its slot forever. */
  private forgetUnacquired(): void {
    const stale = performance.now() - UNACQUIRED_MS;
    for (const [id, times] of this.delivered) {
      const fresh = times.filter((t) => t >= stale);
      if (fresh.length === times.length) continue;
      if (fresh.length > 0) this.delivered.set(id, fresh);
      else this.delivered.delete(id);
      queueMicrotask(this.onSlotFree);
    }
  }
}

/** Adds `by` to a task's count, forgetting the task at zero. */
function count(counts: Map<string, number>, id: string, by: number): void {
  const n = (counts.get(id) ?? 0) + by;
  if (n > 0) counts.set(id, n);
  else counts.delete(id);
}

type Acquired = Extract<Response, { kind: "task.acquire"; head: { status: 200 } }>;

type SilentEnd = { kind: "timer" } | { kind: "undecodable"; error: string };

/** The answer a release left to its lease gets here; the SDK ignores it (core.js releaseTask). */
export function releasedHere(req: Extract<Request, { kind: "task.release" }>): Response {
  return {
    kind: "task.release",
    head: { corrId: req.head.corrId, status: 200, version: req.head.version },
    data: {},
  };
}

/**
 * Whether the SDK (0.11.5) ends the execution this acquisition hands it without another request, and
 * why. Its Core.onMessage decodes the task's promise with its codec before it starts the heartbeat and
 * outside the try whose catch releases the task, so a promise it cannot decode throws out of it, sent
 * nothing more; and its executeUntilBlocked drops a sleep's timer task acquired before its deadline
 * without a word. Every other failure after the acquisition is caught there and releases the task.
 */
function silentEnd(res: Acquired): SilentEnd | undefined {
  try {
    SDK_CODEC.decodePromise(res.data.promise);
  } catch (err) {
    return { kind: "undecodable", error: err instanceof Error ? err.message : String(err) };
  }
  if (res.data.promise.tags?.["resonate:timer"] === "true" && res.data.promise.state === "pending")
    return { kind: "timer" };
  return undefined;
}
