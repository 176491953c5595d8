// A local step (`ctx.run`) for one round trip instead of two. The SDK fences two requests per step:
// create the step's promise, run the step, settle it. The create is answered here at once, as the
// store would answer it, and reaches the store later in the same call as the step's result.
//
// Answering for the store is only sound when the store's answer is known: the step's promise does not
// exist yet and the fence would pass. The task's acquisition brought the store's list of every promise
// of the workflow's branch (the `preload`, complete at that moment), every later creation under the
// task goes through this process, and only the holder of the task's current version can create
// under it. So a local child that is neither in that list nor created since is new, and the store
// would create it pending, provided the task still holds its lease and neither deadline is near. A
// replayed step is in the list, so it is never deferred and the SDK returns its stored result.
//
// Order is kept where it matters. A step's result goes with the creates the SDK issued before that
// step's create (its ancestors among them), its own last, so the two travel as one write (see
// step-pairs.ts and resonate._steps_fused); creates issued after it stay deferred, since a step's
// result and a later sibling's start are independent: a branch's start is not written with an earlier
// branch's result, but with its own. Any other request concerning the task sends all its deferred
// creates first, in the SDK's order, in the same call. A step running longer than `startedAfterMs`
// has its create sent in the background, so the dashboard shows it running. A crash loses only
// creates of steps whose results were never recorded, which a replay runs again anyway: the steps
// that were in flight.
//
// A step's result is answered here at once too, and written (with its create) while the SDK resumes
// the workflow and builds its next request; that request, and anything else concerning the task, waits
// until the write is committed (write()). So the SDK's work between two steps overlaps the round trip,
// and no step starts before the results ahead of it are durable: in between, the workflow only runs its
// own deterministic code, which a replay runs again anyway.
//
// A fan-in is one commit too. The SDK settles a fan-out's branches one at a time, as the workflow
// awaits them, so each result would be a round trip of its own although every branch has finished.
// While other branches started with it are still unsettled here, a branch's answered result waits with
// its create; the last branch's result carries them all, in the SDK's order. In between, the workflow
// only resumes its own code and awaits the next branch: anything else it does concerning the task
// (starting a new step, an rpc, a sleep, finishing, suspending) sends the waiting results first, and no
// new step is started before they are committed. So a crash during a fan-in runs that fan-out's
// unrecorded branches again, as it would any branch in flight, and never a step that came after them.
// A result waits at most until its step's create is `startedAfterMs` old.
import { isRedirect, isSuccess, type Request, type Response } from "@resonatehq/sdk";
import { type CreateAction, type Fence, type SettleAction, settledAnswer, startedAnswer } from "./answers.ts";
import type { Unit } from "./batches.ts";
import { isObject } from "./step-pairs.ts";

/** The states a step's result settles to, as resonate._steps_fused takes them. */
const RESULT_STATES = new Set(["resolved", "rejected", "rejected_canceled"]);

interface Deferred {
  id: string;
  req: Fence;
  at: number;
  /** Wall-clock ms of the answer given for the create, the promise's createdAt. */
  createdAt: number;
  /** The step's result, answered here while sibling branches were still unsettled. */
  settle?: Fence;
}

interface TaskSteps {
  id: string;
  version: number;
  branch: string | undefined;
  timeoutAt: number;
  /** Promise ids of the branch the store has, or will have once the deferred creates arrive. */
  known: Set<string>;
  /** Creates answered here and not yet sent, in the SDK's order. */
  deferred: Deferred[];
  /** The last call concerning this task; the next one waits for it, so the store sees them in order. */
  tail: Promise<unknown>;
  /** Calls concerning this task not yet finished. */
  calls: number;
  /** Calls in flight that carry step results answered here. */
  carrying: number;
  /** Settles when the results answered here and being written in the background are (see write()). */
  writing: Promise<void> | undefined;
  /** No background start before this (performance.now() ms): the last one failed. */
  quietUntil: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export interface StepsOptions {
  send(unit: Unit): Promise<Response[]>;
  /** Off: every request goes to the store as the SDK sent it. */
  defer: boolean;
  /** Whether the store's lease on this execution surely still holds. */
  leaseHolds(id: string, version: number): boolean;
  /** Whether a new step may start here without the store's fence: the lease holds and no peer can
   *  have released the task. A result may be answered on the lease alone: nothing starts after it
   *  before its write is committed, and the store refuses that write if the task was taken over. */
  mayStartSteps(id: string, version: number): boolean;
  startedAfterMs: number;
  /** How long a step result answered here is tried again when its write fails, ms. */
  writeRetryMs: number;
  warn(event: string, fields: Record<string, unknown>): void;
}

export interface StepStats {
  /** Step creates answered here. */
  deferred: number;
  /** Step results answered here before they were committed. */
  deferredResults: number;
  /** Step creates sent in the background because the step ran longer than startedAfterMs. */
  startedInBackground: number;
  /** Calls made for those background starts. */
  backgroundCalls: number;
}

/** A deadline this close (by this process's clock) might already have passed by the store's. */
const DEADLINE_MARGIN_MS = 5_000;

export class Steps {
  readonly stats: StepStats = { deferred: 0, deferredResults: 0, startedInBackground: 0, backgroundCalls: 0 };
  private readonly opts: StepsOptions;
  private readonly tasks = new Map<string, TaskSteps>();
  /** Deferred step id -> the task it was created under. */
  private readonly owners = new Map<string, TaskSteps>();

  constructor(opts: StepsOptions) {
    this.opts = opts;
  }

  async send(req: Request): Promise<Response> {
    // Nothing concerning a task overtakes the results being written for it: a step starts only once
    // the results answered before it are committed (or, if that write failed, travel with its start).
    const writing = this.writingFor(req);
    if (writing) await writing;
    const task = this.deferrable(req);
    if (task) return this.defer(task, req as Fence);
    const waiting = this.deferrableResult(req);
    if (waiting) return this.deferResult(...waiting, req as Fence);
    const concerned = this.concerned(req);
    if (!concerned) return (await this.opts.send([req]))[0]!;
    return this.after(concerned, async () => {
      const creates = this.take(concerned, 0, settledStep(req));
      const answers = await this.sendWithCreates(concerned, creates, [req]);
      return answers.at(-1)!;
    });
  }

  /** Learns from every answer the SDK gets from the store (not from answers given here); `undefined`
   *  when the request failed outright. */
  observe(req: Request, res: Response | undefined): void {
    if (res === undefined) {
      // After a failed suspend or fulfill the SDK releases the task: that release carries the results
      // the failed request carried (they are waiting here again), so only a failed release ends it.
      if (req.kind === "task.release") {
        const t = this.current(req.data.id, req.data.version);
        if (t) this.end(t);
      }
    } else if (req.kind === "task.acquire" && res.kind === "task.acquire" && isSuccess(res)) {
      // An acquisition the SDK ends without running it (executions.ts silentEnd) started no execution.
      if (!this.opts.leaseHolds(res.data.task.id, res.data.task.version)) return;
      this.begin(res.data.task.id, res.data.task.version, res.data.promise, res.data.preload);
    } else if (req.kind === "task.create" && res.kind === "task.create" && isSuccess(res)) {
      if (res.data.task?.state === "acquired")
        this.begin(res.data.task.id, res.data.task.version, res.data.promise, res.data.preload);
    } else if (req.kind === "task.fence" && res.kind === "task.fence" && isSuccess(res)) {
      const t = this.current(req.data.id, req.data.version);
      const inner = res.data.action;
      if (t && inner.kind === "promise.create" && isSuccess(inner)) t.known.add(inner.data.promise.id);
    } else if (req.kind === "task.suspend" && res.kind === "task.suspend" && isRedirect(res)) {
      const t = this.current(req.data.id, req.data.version);
      for (const p of res.data.preload) t?.known.add(p.id);
    } else if (req.kind === "task.suspend" || req.kind === "task.fulfill" || req.kind === "task.release") {
      const t = this.current(req.data.id, req.data.version);
      if (t) this.end(t);
    }
  }

  private begin(
    id: string,
    version: number,
    promise: { tags: Record<string, string>; timeoutAt: number },
    preload: { id: string }[],
  ): void {
    const previous = this.tasks.get(id);
    if (previous) this.end(previous);
    this.tasks.set(id, {
      id,
      version,
      branch: promise.tags?.["resonate:branch"],
      timeoutAt: promise.timeoutAt,
      known: new Set(preload.map((p) => p.id)),
      deferred: [],
      tail: Promise.resolve(),
      calls: 0,
      carrying: 0,
      writing: undefined,
      quietUntil: 0,
      timer: undefined,
    });
  }

  private end(t: TaskSteps): void {
    if (t.timer) clearTimeout(t.timer);
    for (const d of t.deferred) this.owners.delete(d.id);
    if (this.tasks.get(t.id) === t) this.tasks.delete(t.id);
  }

  private current(id: string, version: number): TaskSteps | undefined {
    const t = this.tasks.get(id);
    return t && t.version === version ? t : undefined;
  }

  /** The task under which this request starts a new local step whose create may wait, if any. */
  private deferrable(req: Request): TaskSteps | undefined {
    if (!this.opts.defer || req.kind !== "task.fence" || req.data.action.kind !== "promise.create")
      return undefined;
    const t = this.current(req.data.id, req.data.version);
    const d = req.data.action.data;
    if (!t || t.branch === undefined || typeof d.id !== "string" || d.id === t.id) return undefined;
    if (!isObject(d.tags) || !isObject(d.param) || typeof d.timeoutAt !== "number") return undefined;
    // A target makes a task and an execute message; only a plain local step is the store's to skip.
    if (d.tags["resonate:scope"] !== "local" || d.tags["resonate:target"]) return undefined;
    // The preload lists the task's branch only; a step outside it (an explicit id) may exist.
    if (d.tags["resonate:branch"] !== t.branch || t.known.has(d.id) || this.owners.has(d.id))
      return undefined;
    // So may a step nested in an explicit-id step: its id extends that id, not the task's, and any
    // other workflow running a step of that id created it under its own branch, unlisted here.
    if (!d.id.startsWith(childPrefix(t.id))) return undefined;
    if (Math.min(d.timeoutAt, t.timeoutAt) <= Date.now() + DEADLINE_MARGIN_MS) return undefined;
    if (!this.opts.mayStartSteps(t.id, t.version)) return undefined;
    // Results waiting here or travelling must be committed before a new step can start (see the top
    // of this file).
    if (t.carrying > 0 || t.deferred.some((w) => w.settle)) return undefined;
    return t;
  }

  private defer(t: TaskSteps, req: Fence): Response {
    const action = req.data.action as CreateAction;
    const createdAt = Date.now();
    t.known.add(action.data.id);
    t.deferred.push({ id: action.data.id, req, at: performance.now(), createdAt });
    this.owners.set(action.data.id, t);
    this.stats.deferred++;
    this.arm(t);
    return startedAnswer(req, createdAt);
  }

  /** The deferred step whose result may be answered here, and its task, if this is one. */
  private deferrableResult(req: Request): [TaskSteps, Deferred] | undefined {
    if (req.kind !== "task.fence" || req.data.action.kind !== "promise.settle") return undefined;
    const t = this.current(req.data.id, req.data.version);
    const a = req.data.action.data;
    if (!t || !RESULT_STATES.has(a.state) || !isObject(a.value)) return undefined;
    const step = t.deferred.find((w) => w.id === a.id);
    if (!step || step.settle) return undefined;
    if (!this.opts.leaseHolds(t.id, t.version)) return undefined;
    return [t, step];
  }

  /** Answers a step's result at once. While branches started with it are unsettled, it waits for the
   *  last of them (a fan-in); the last one writes them all, in the background. */
  private deferResult(t: TaskSteps, step: Deferred, req: Fence): Response {
    step.settle = req;
    this.stats.deferredResults++;
    if (!t.deferred.some((w) => !w.settle)) this.write(t);
    return settledAnswer(step.req, req, step.createdAt, Date.now());
  }

  /**
   * Writes the results answered here, with the creates issued before them, while the workflow goes on
   * to its next request, which waits for this write (see send()) unless it concerns another task. So
   * the SDK's work between a step's result and the next step's start overlaps the write, and no step
   * starts before the results ahead of it are committed. A failed write is tried again for a while (a
   * database restart), then left waiting here for the task's next request to carry. A write the store
   * refuses (the task was taken over or canceled) ends what this process knows of the task, so nothing
   * more is answered for it here and the store refuses the workflow's next request itself.
   */
  private write(t: TaskSteps): void {
    const written = this.after(t, () => this.writeResults(t));
    t.writing = written;
    void written.finally(() => {
      if (t.writing === written) t.writing = undefined;
    });
  }

  private async writeResults(t: TaskSteps): Promise<void> {
    const giveUpAt = performance.now() + this.opts.writeRetryMs;
    for (let pause = 50; ; pause = Math.min(2 * pause, 1_000)) {
      if (this.tasks.get(t.id) !== t) return;
      // Every step deferred now has its result (see deferResult), and new ones wait for this write.
      const creates = this.take(t, 0);
      if (creates.length === 0) return;
      try {
        await this.sendWithCreates(t, creates, []);
        return;
      } catch (err) {
        if (performance.now() + pause > giveUpAt) {
          this.opts.warn("could not write step results; they go with the task's next request", {
            task_id: t.id,
            error: (err as Error).message,
          });
          return;
        }
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }

  /** The background write a request concerning a task must wait for, if one is in flight. */
  private writingFor(req: Request): Promise<void> | undefined {
    return this.concerned(req)?.writing;
  }

  /** The task whose deferred creates must reach the store before this request, if any. */
  private concerned(req: Request): TaskSteps | undefined {
    switch (req.kind) {
      case "task.fence":
      case "task.suspend":
      case "task.fulfill":
      case "task.release":
        return this.tasks.get(req.data.id) ?? this.ownerOfAny(idsIn(req.data));
      default:
        return this.ownerOfAny(idsIn(req.data));
    }
  }

  private ownerOfAny(ids: string[]): TaskSteps | undefined {
    for (const id of ids) {
      const t = this.owners.get(id);
      if (t) return t;
    }
    return undefined;
  }

  /** Runs `call` after every earlier call concerning the task has finished; at once when none is
   *  in flight, so a step's write is on the wire before the SDK resumes the workflow (a hop through
   *  the microtask queue would let the SDK's whole continuation run first). */
  private after<T>(t: TaskSteps, call: () => Promise<T>): Promise<T> {
    const result = t.calls === 0 ? call() : t.tail.then(call, call);
    t.calls++;
    const done = () => {
      t.calls--;
    };
    t.tail = result.then(done, done);
    return result;
  }

  /** Removes the deferred creates that must precede a request: for a local step's result, those
   *  issued up to its own create (none if that create was sent already, since sends keep the
   *  order); otherwise those at least minAgeMs old (0: all). A prefix either way. */
  private take(t: TaskSteps, minAgeMs: number, settled?: string): Deferred[] {
    let n: number;
    if (settled !== undefined && t.known.has(settled)) {
      n = t.deferred.findIndex((d) => d.id === settled) + 1;
    } else {
      const cutoff = performance.now() - minAgeMs;
      n = 0;
      while (n < t.deferred.length && t.deferred[n]!.at <= cutoff) n++;
    }
    const taken = t.deferred.splice(0, n);
    for (const d of taken) this.owners.delete(d.id);
    return taken;
  }

  private async sendWithCreates(t: TaskSteps, creates: Deferred[], rest: Request[]): Promise<Response[]> {
    const waiting = creates.flatMap((d) => (d.settle ? [d.req, d.settle] : [d.req]));
    // While results travel, no new step is answered here (see deferrable()): it waits for this call.
    const carries = creates.some((d) => d.settle);
    if (carries) t.carrying++;
    let answers: Response[];
    try {
      answers = await this.opts.send([...waiting, ...rest]);
    } catch (err) {
      this.putBack(t, creates);
      throw err;
    } finally {
      if (carries) t.carrying--;
    }
    let i = 0;
    let refused = false;
    let unwritten: number | undefined;
    for (const [k, d] of creates.entries()) {
      const created = answered(answers[i++]!, "promise.create");
      const settled = d.settle ? answered(answers[i++]!, "promise.settle") : undefined;
      // Not applied: a lock conflict that outlasted its retries, a failure inside the store. Neither
      // refuses the fence, so the step and those after it go again, as after a failed call.
      if (created.status >= 500 || (settled?.status ?? 0) >= 500) {
        unwritten ??= k;
        continue;
      }
      const state = d.settle ? (d.settle.data.action as SettleAction).data.state : undefined;
      // Already settled as asked: an earlier call wrote it and its answer was lost.
      const started =
        created.promise?.state === "pending" || (state !== undefined && created.promise?.state === state);
      if (!started) {
        refused = true;
        // A refused fence (the task was canceled or taken over) also refuses the step's result, which
        // the SDK then sees; a step that existed already would mean the store's list was not complete.
        this.opts.warn("the store refused a step started without waiting for it", {
          step_id: d.id,
          status: created.status,
          state: created.promise?.state,
        });
      }
      if (!settled || settled.promise?.state === state) continue;
      refused = true;
      // The workflow went on with this result; a refused fence refuses whatever it sends next too.
      this.opts.warn("the store refused a step result answered before it was committed", {
        step_id: d.id,
        status: settled.status,
        state: settled.promise?.state,
      });
    }
    // Nothing more is answered here for a task whose fence the store refused: its next request goes
    // to the store, which refuses it too.
    if (refused) this.end(t);
    else if (unwritten !== undefined) {
      const again = creates.slice(unwritten);
      this.putBack(t, again);
      throw new Error(`the store did not write step ${again[0]!.id}; it goes again`);
    }
    return answers;
  }

  /** Unknown whether they arrived, or known they did not: a create of an existing promise and a settle
   *  of a settled one change nothing (the first writer wins), so they go again with the next call. */
  private putBack(t: TaskSteps, creates: Deferred[]): void {
    t.deferred.unshift(...creates);
    for (const d of creates) this.owners.set(d.id, t);
  }

  /** Schedules the background start of the oldest deferred step, if none is scheduled. */
  private arm(t: TaskSteps): void {
    if (t.timer || t.deferred.length === 0) return;
    const now = performance.now();
    const wait = Math.max(0, t.deferred[0]!.at + this.opts.startedAfterMs - now, t.quietUntil - now);
    t.timer = setTimeout(() => {
      t.timer = undefined;
      void this.after(t, async () => {
        const creates = this.take(t, this.opts.startedAfterMs);
        if (creates.length === 0) return;
        this.stats.startedInBackground += creates.length;
        this.stats.backgroundCalls++;
        await this.sendWithCreates(t, creates, []);
      })
        .catch((err) => {
          // Not again at once: the database is away, and the creates go with the task's next request anyway.
          t.quietUntil = performance.now() + 1_000;
          this.opts.warn("could not record running steps as started", { error: (err as Error).message });
        })
        .finally(() => this.arm(t));
    }, wait);
    (t.timer as { unref?: () => void }).unref?.();
  }
}

/** How the ids the SDK mints under a promise begin (its joinId: the root's first segment after ':'). */
function childPrefix(id: string): string {
  return `${id}${id.includes(":") ? "." : ":"}`;
}

/** The step a fenced settle records, if that is what the request is. */
function settledStep(req: Request): string | undefined {
  return req.kind === "task.fence" && req.data.action.kind === "promise.settle"
    ? req.data.action.data.id
    : undefined;
}

/** A fenced action's status and promise, as the store answered it. */
function answered(res: Response, kind: "promise.create" | "promise.settle") {
  const inner = res.kind === "task.fence" && isSuccess(res) ? res.data.action : undefined;
  const promise = inner?.kind === kind && isSuccess(inner) ? inner.data.promise : undefined;
  return { status: inner?.head.status ?? res.head.status, promise };
}

/** Promise ids a request names: its own, an awaited or awaiter, its action's, its actions'. */
function idsIn(data: unknown): string[] {
  if (!isObject(data)) return [];
  const ids: string[] = [];
  for (const key of ["id", "awaited", "awaiter"]) if (typeof data[key] === "string") ids.push(data[key]);
  if (isObject(data.action)) ids.push(...idsIn(data.action.data));
  if (Array.isArray(data.actions)) for (const a of data.actions) if (isObject(a)) ids.push(...idsIn(a.data));
  return ids;
}
