// Seeded random request sequences for the differential test. The generator keeps a little model of
// what it has seen (task versions from responses and execute messages) so that most fencing
// requests pass their checks and reach the interesting code; the rest are deliberate invalid
// variants (wrong versions, missing ids, self-awaits, empty actions, duplicate awaited ids).

// biome-ignore lint/suspicious/noExplicitAny: requests and records are untyped JSON on the wire.
export type Json = any;

export interface Step {
  /** Logical time of the step (ms). */
  now: number;
  /** Run the timer loop at `now` before the request (debug.tick / process_timeouts(now)). */
  tick: boolean;
  req: Json;
}

export function rng(seed: number): () => number {
  let a = seed >>> 0 || 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const START_TIME = Date.UTC(2026, 10, 21, 9, 58, 30);
export const TARGETS = ["poll://any@g1", "poll://any@g2"];
export const LISTEN_ADDRESSES = ["poll://uni@g1/pid1", "poll://uni@g2/pid2", "local://any@x"];
/** Every address a message can be sent to in a generated sequence. */
export const ADDRESSES = [...TARGETS, ...LISTEN_ADDRESSES];

const IDS = ["r0", "r1", "r2", "r0:1", "r0:2", "r0:1.1", "r1:1", "r2:1", "ext"];
const PIDS = ["pid1", "pid2"];
const TTLS = [5000, 60000];
const STEPS = [1, 10, 600, 6000, 31000];
const CRONS = [
  "* * * * *",
  "*/5 * * * *",
  "0 * * * *",
  "30 10 * * 1-5",
  "0 0 1,15 * *",
  "*/20 * * * * *",
  "@hourly",
  "0 12 * jan,jul sun",
  "5-10/2 * * * *",
  "not a cron",
  "61 * * * *",
];

export class Generator {
  readonly next: () => number;
  now = START_TIME;
  /** Probability of ticking before a request; sparse ticks exercise eager convergence. */
  readonly tickRate: number;
  private versions = new Map<string, number>();
  private corr = 0;
  /**
   * The reference's current tasks and promises. Only used to steer the choice of ids and
   * versions toward requests that pass their checks (acquired tasks for fencing, pending tasks
   * with their live version for acquire, pending promises to await); never to predict answers.
   */
  world: { tasks: Map<string, Json>; promises: Map<string, Json> } = {
    tasks: new Map(),
    promises: new Map(),
  };

  constructor(seed: number) {
    this.next = rng(seed);
    this.tickRate = [0, 0.3, 0.7, 1][Math.floor(this.next() * 4)]!;
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }

  private chance(p: number): boolean {
    return this.next() < p;
  }

  private weighted<T>(entries: [number, T][]): T {
    const total = entries.reduce((s, [w]) => s + w, 0);
    let x = this.next() * total;
    for (const [w, v] of entries) {
      x -= w;
      if (x < 0) return v;
    }
    return entries[entries.length - 1]![1];
  }

  private head(): Json {
    this.corr += 1;
    return { corrId: `c${this.corr}`, version: "2026-04-01" };
  }

  private id(): string {
    return this.pick(IDS);
  }

  /** An id that probably has a task, preferably in `state`, so task requests mostly reach their body. */
  private taskId(state?: string): string {
    if (state && this.chance(0.8)) {
      const inState = [...this.world.tasks.values()]
        .filter((t) => t.state === state)
        .map((t) => t.id as string);
      if (inState.length > 0) return this.pick(inState);
    }
    const known = [...this.versions.keys()];
    if (known.length > 0 && this.chance(0.85)) return this.pick(known);
    return this.id();
  }

  private version(id: string): number {
    const v = this.world.tasks.get(id)?.version ?? this.versions.get(id) ?? 0;
    return this.chance(0.9) ? v : this.pick([v - 1, v + 1, 0, 1]);
  }

  /** Mostly pending promises, so suspends register callbacks; sometimes settled ones (300). */
  private awaitedId(not?: string): string {
    if (this.chance(0.75)) {
      const pending = [...this.world.promises.values()]
        .filter((p) => p.state === "pending" && p.id !== not)
        .map((p) => p.id);
      if (pending.length > 0) return this.pick(pending);
    }
    return this.id();
  }

  private timeoutAt(): number {
    return this.weighted([
      [1, this.now - 1000],
      [1, this.now],
      [2, this.now + 50],
      [3, this.now + 5000],
      [3, this.now + 40000],
      [6, this.now + 1_000_000],
      [2, Number.MAX_SAFE_INTEGER],
    ]);
  }

  private tags(): Record<string, string> {
    const target = this.pick(TARGETS);
    return this.weighted<Record<string, string>>([
      [3, {}],
      [6, { "resonate:target": target, "resonate:scope": "global" }],
      [3, { "resonate:target": target, "resonate:timer": "true", "resonate:scope": "global" }],
      [4, { "resonate:scope": "global" }],
      [3, { "resonate:scope": "local", "resonate:branch": "r0" }],
      [2, { "resonate:external": "true" }],
      [1, { "resonate:target": "" }],
      [2, { "resonate:target": target, "resonate:delay": String(this.now + this.pick([-5, 700, 40000])) }],
      [1, { "resonate:target": target, "resonate:delay": "soon" }],
      [2, { "resonate:target": target, "resonate:branch": "r0" }],
    ]);
  }

  private value(): Json {
    return this.weighted([
      [1, {}],
      [2, { data: btoa(JSON.stringify(this.corr)) }],
      [1, { headers: { h: "1" }, data: "eA==" }],
    ]);
  }

  private promiseCreateData(id = this.id()): Json {
    const data: Json = { id, timeoutAt: this.timeoutAt(), tags: this.tags() };
    if (this.chance(0.8)) data.param = this.value();
    return data;
  }

  private settleState(): string {
    return this.weighted([
      [5, "resolved"],
      [3, "rejected"],
      [1, "rejected_canceled"],
      [0.3, "rejected_timedout"],
    ]);
  }

  /** Feed back what the reference answered and sent, so later requests carry live versions. */
  observe(res: Json, messages: Json[]): void {
    const record = (t: Json) => {
      if (t && typeof t.id === "string" && typeof t.version === "number") this.versions.set(t.id, t.version);
    };
    if (res?.data && typeof res.data === "object") {
      record(res.data.task);
      const p = res.data.promise ?? res.data.action?.data?.promise;
      if (p?.tags?.["resonate:target"] && !this.versions.has(p.id)) this.versions.set(p.id, 0);
    }
    for (const m of messages) if (m.kind === "execute") record(m.data.task);
  }

  step(): Step {
    if (this.chance(0.85)) {
      this.now += this.weighted(STEPS.map((d, i): [number, number] => [[4, 4, 3, 2, 1][i]!, d]));
    }
    const tick = this.chance(this.tickRate);
    const kind = this.weighted<string>([
      [14, "promise.create"],
      [7, "task.create"],
      [4, "promise.get"],
      [8, "promise.settle"],
      [4, "promise.register_callback"],
      [5, "promise.register_listener"],
      [3, "task.get"],
      [10, "task.acquire"],
      [4, "task.release"],
      [9, "task.suspend"],
      [6, "task.fulfill"],
      [10, "task.fence"],
      [2, "task.halt"],
      [2, "task.continue"],
      [4, "task.heartbeat"],
      [2, "schedule.create"],
      [1, "schedule.get"],
      [1, "schedule.delete"],
      [0.5, "promise.search"],
      [1, "debug.tick"],
    ]);
    return { now: this.now, tick, req: { kind, head: this.head(), data: this.data(kind) } };
  }

  private data(kind: string): Json {
    switch (kind) {
      case "promise.create":
        return this.promiseCreateData();
      case "promise.get":
      case "task.get":
      case "task.halt":
        return { id: kind.startsWith("task") ? this.taskId() : this.id() };
      case "task.continue":
        return { id: this.taskId("halted") };
      case "promise.settle":
        return { id: this.id(), state: this.settleState(), value: this.value() };
      case "promise.register_callback": {
        const awaiter = this.chance(0.8) ? this.taskId() : this.id();
        return { awaited: this.chance(0.1) ? awaiter : this.awaitedId(), awaiter };
      }
      case "promise.register_listener":
        return { awaited: this.id(), address: this.pick(LISTEN_ADDRESSES) };
      case "task.create": {
        const action = this.promiseCreateData();
        if (this.chance(0.85)) action.tags = { ...action.tags, "resonate:target": this.pick(TARGETS) };
        return {
          pid: this.pick(PIDS),
          ttl: this.pick(TTLS),
          action: { kind: "promise.create", head: this.head(), data: action },
        };
      }
      case "task.acquire": {
        const id = this.taskId("pending");
        return { id, version: this.version(id), pid: this.pick(PIDS), ttl: this.pick(TTLS) };
      }
      case "task.release": {
        const id = this.taskId("acquired");
        return { id, version: this.version(id) };
      }
      case "task.suspend": {
        const id = this.taskId("acquired");
        const n = this.weighted([
          [1, 0],
          [6, 1],
          [3, 2],
          [1, 3],
        ]);
        const awaited: string[] = [];
        for (let i = 0; i < n; i++) {
          let a = this.awaitedId(id);
          if (a === id && this.chance(0.8)) a = `${id === "r0" ? "r1" : "r0"}`;
          awaited.push(a);
        }
        if (n > 0 && this.chance(0.1)) awaited.push(awaited[0]!);
        return {
          id,
          version: this.version(id),
          actions: awaited.map((a) => ({
            kind: "promise.register_callback",
            head: this.head(),
            data: { awaited: a, awaiter: this.chance(0.97) ? id : this.id() },
          })),
        };
      }
      case "task.fulfill": {
        const id = this.taskId("acquired");
        return {
          id,
          version: this.version(id),
          action: {
            kind: "promise.settle",
            head: this.head(),
            data: { id: this.chance(0.95) ? id : this.id(), state: this.settleState(), value: this.value() },
          },
        };
      }
      case "task.fence": {
        const id = this.taskId("acquired");
        const create = this.chance(0.6);
        const child = this.chance(0.7) ? `${id.split(":")[0]}:${this.pick([1, 2, 3])}` : this.id();
        const action = create
          ? { kind: "promise.create", head: this.head(), data: this.promiseCreateData(child) }
          : {
              kind: "promise.settle",
              head: this.head(),
              data: { id: child, state: this.settleState(), value: this.value() },
            };
        return { id, version: this.version(id), action };
      }
      case "task.heartbeat": {
        const ids = [...this.versions.keys()].filter(() => this.chance(0.6));
        return { pid: this.pick(PIDS), tasks: ids.map((id) => ({ id, version: this.version(id) })) };
      }
      case "schedule.create": {
        const tags = this.weighted<Record<string, string>>([
          [5, { "resonate:target": this.pick(TARGETS) }],
          [1, {}],
          [1, { "resonate:target": "" }],
        ]);
        return {
          id: this.pick(["s1", "s2"]),
          cron: this.pick(CRONS),
          promiseId: this.pick(["{{.id}}-{{.timestamp}}", "fixed-{{.id}}", "r0"]),
          promiseTimeout: this.pick([1000, 60000, 1_000_000_000]),
          promiseParam: this.value(),
          promiseTags: tags,
        };
      }
      case "schedule.get":
      case "schedule.delete":
        return { id: this.pick(["s1", "s2", "s3"]) };
      case "debug.tick":
        return { time: this.now };
      default:
        return {};
    }
  }
}
