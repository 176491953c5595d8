// Which step creates the network answers itself, and in what order the deferred ones reach the store:
// functions/shared/store/steps.ts against a recording stand-in for the store.
import type { Request, Response } from "@resonatehq/sdk";
import { describe, expect, it } from "vitest";
import type { Unit } from "../../../../functions/shared/store/batches.ts";
import { Steps } from "../../../../functions/shared/store/steps.ts";

const head = { corrId: "c", version: "2026-04-01" };
const TASK = "wf";
const HOUR = 3_600_000;

function acquire(preload: string[] = [], branch = TASK): [Request, Response] {
  const promise = {
    id: TASK,
    state: "pending" as const,
    param: {},
    value: {},
    tags: { "resonate:branch": branch, "resonate:target": "poll://any@g" },
    timeoutAt: Date.now() + HOUR,
    createdAt: 0,
  };
  return [
    { kind: "task.acquire", head, data: { id: TASK, version: 0, pid: "p", ttl: 60_000 } },
    {
      kind: "task.acquire",
      head: { ...head, status: 200 },
      data: {
        task: { id: TASK, state: "acquired", version: 1, resumes: [] },
        promise,
        preload: preload.map((id) => ({ ...promise, id, state: "resolved" as const })),
      },
    },
  ];
}

type Fence = Extract<Request, { kind: "task.fence" }>;

/** A request the task's current holder fences with its version. */
function fence(action: Fence["data"]["action"]): Request {
  return { kind: "task.fence", head, data: { id: TASK, version: 1, action } };
}

function create(id: string, tags: Record<string, string> = {}, timeoutAt = Date.now() + HOUR): Request {
  return fence({
    kind: "promise.create",
    head,
    data: {
      id,
      timeoutAt,
      param: { headers: {}, data: "e30=" },
      tags: { "resonate:scope": "local", "resonate:branch": TASK, ...tags },
    },
  });
}

function settle(id: string): Request {
  return fence({
    kind: "promise.settle",
    head,
    data: { id, state: "resolved", value: { headers: {}, data: "MQ==" } },
  });
}

const fulfill: Request = {
  kind: "task.fulfill",
  head,
  data: {
    id: TASK,
    version: 1,
    action: { kind: "promise.settle", head, data: { id: TASK, state: "resolved", value: {} } },
  },
};

/** What reached the store: each call as the list of its requests, shortened to "kind id". */
function harness(
  opts: {
    lease?: boolean | (() => boolean);
    startedAfterMs?: number;
    writeRetryMs?: number;
    failNext?: () => boolean;
    /** Each call is answered once this resolves. */
    slow?: () => Promise<void>;
    /** The store refuses every fence (the task was taken over). */
    refuse?: boolean;
    /** The mailbox's session was lost since the task was acquired. */
    sessionLost?: () => boolean;
    /** The store's answer to a request, where it differs from a plain success. */
    store?: (req: Request) => Response | undefined;
  } = {},
) {
  const calls: string[][] = [];
  const send = async (unit: Unit): Promise<Response[]> => {
    if (opts.failNext?.()) throw new Error("connection lost");
    calls.push(unit.map(label));
    await opts.slow?.();
    return unit.map((req) => opts.store?.(req) ?? (opts.refuse ? refused : answer)(req));
  };
  const steps = new Steps({
    send,
    defer: true,
    leaseHolds: () => (typeof opts.lease === "function" ? opts.lease() : (opts.lease ?? true)),
    mayStartSteps: () =>
      (typeof opts.lease === "function" ? opts.lease() : (opts.lease ?? true)) && !opts.sessionLost?.(),
    startedAfterMs: opts.startedAfterMs ?? 60_000,
    writeRetryMs: opts.writeRetryMs ?? 10_000,
    warn: () => {},
  });
  // As StoreNetwork.send: every outcome is observed, a failure too.
  const sdk = async (req: Request) => {
    let res: Response;
    try {
      res = await steps.send(req);
    } catch (err) {
      steps.observe(req, undefined);
      throw err;
    }
    steps.observe(req, res);
    return res;
  };
  const [acq, acqRes] = acquire();
  steps.observe(acq, acqRes);
  return { steps, calls, sdk };
}

function label(req: Request): string {
  if (req.kind === "task.fence") return `${req.data.action.kind.split(".")[1]} ${req.data.action.data.id}`;
  return req.kind;
}

function answer(req: Request): Response {
  if (req.kind !== "task.fence")
    return { kind: req.kind, head: { ...req.head, status: 200 }, data: {} } as Response;
  const a = req.data.action;
  const promise = {
    id: a.data.id,
    state: a.kind === "promise.create" ? "pending" : "resolved",
    param: {},
    value: {},
    tags: {},
    timeoutAt: 0,
    createdAt: 0,
  };
  return {
    kind: "task.fence",
    head: { ...req.head, status: 200 },
    data: { action: { kind: a.kind, head: { ...a.head, status: 200 }, data: { promise } }, preload: [] },
  } as Response;
}

/** What the adapter answers when a lock conflict outlasted its retries: 500, nothing applied. */
function conflict(req: Request): Response {
  return {
    kind: req.kind,
    head: { ...req.head, status: 500 },
    data: "lock conflict persisted after retries",
  } as Response;
}

/** The store's answer to a create or settle of a step already written, resolved: the promise as it is. */
function settledAnswer(req: Request): Response {
  const res = answer(req) as Response & { data: { action: { data: { promise: { state: string } } } } };
  res.data.action.data.promise.state = "resolved";
  return res;
}

/** The store's answer to a fence of a task taken over: 409, the action not run. */
function refused(req: Request): Response {
  return { kind: req.kind, head: { ...req.head, status: 409 }, data: "fence refused" } as Response;
}

describe("Steps: a local step's create travels with its result", () => {
  it("answers a new step's create itself and sends it with the step's result, in one call", async () => {
    const { calls, sdk } = harness();
    const res = await sdk(create(`${TASK}:0`));
    expect(res).toMatchObject({
      head: { status: 200 },
      data: { action: { head: { status: 200 }, data: { promise: { id: `${TASK}:0`, state: "pending" } } } },
    });
    expect(calls).toEqual([]);
    await sdk(settle(`${TASK}:0`));
    await sdk(create(`${TASK}:1`));
    await sdk(settle(`${TASK}:1`));
    expect(calls).toEqual([
      [`create ${TASK}:0`, `settle ${TASK}:0`],
      [`create ${TASK}:1`, `settle ${TASK}:1`],
    ]);
  });

  it("sends a step the store already has (a replay) as the SDK sent it", async () => {
    const { steps, calls } = harness();
    const [acq, acqRes] = acquire([`${TASK}:0`]);
    steps.observe(acq, acqRes);
    await steps.send(create(`${TASK}:0`));
    expect(calls).toEqual([[`create ${TASK}:0`]]);
  });

  it("defers only a plain local step of the task's branch, within its lease and far from its deadline", async () => {
    const cases: [string, Request, boolean?][] = [
      ["a target (an rpc)", create(`${TASK}:1`, { "resonate:target": "poll://any@g" })],
      ["another branch (an explicit id)", create("other", { "resonate:branch": "other" })],
      ["scope global (ctx.promise)", create(`${TASK}:2`, { "resonate:scope": "global" })],
      ["a deadline within the margin", create(`${TASK}:3`, {}, Date.now() + 1_000)],
      ["a lapsed lease", create(`${TASK}:4`), false],
    ];
    for (const [why, req, lease] of cases) {
      const { calls, sdk } = harness({ lease });
      await sdk(req);
      expect(calls, why).toHaveLength(1);
    }
  });

  it("sends as written a step under an explicit id's step, which another workflow may have created", async () => {
    // ctx.run(gen, { ...ctx.options(), id: "charge" }) in two workflows: the step's nested ctx.run is
    // "charge:0" in both, tagged with each workflow's branch, so this branch's preload cannot list
    // the other's, which the store would answer (settled: the SDK would not run it again).
    const { calls, sdk } = harness();
    await sdk(create("charge", { "resonate:branch": "charge", "resonate:parent": "charge" }));
    await sdk(create("charge:0", { "resonate:parent": "charge" }));
    expect(calls).toEqual([["create charge"], ["create charge:0"]]);
    // The task's own lineage is still answered here, nested steps included.
    await sdk(create(`${TASK}:1`));
    await sdk(create(`${TASK}:1.0`, { "resonate:parent": `${TASK}:1` }));
    expect(calls).toHaveLength(2);
  });

  it("sends every deferred create before any other request concerning the task, in the SDK's order", async () => {
    const { calls, sdk } = harness();
    await sdk(create(`${TASK}:0`));
    await sdk(create(`${TASK}:1`));
    await sdk(fulfill);
    expect(calls).toEqual([[`create ${TASK}:0`, `create ${TASK}:1`, "task.fulfill"]]);
  });

  it("in a fan-in, answers each branch's result while others are unsettled; the last carries them all", async () => {
    const { steps, calls, sdk } = harness();
    for (let i = 0; i < 3; i++) await sdk(create(`${TASK}:${i}`));
    const first = await sdk(settle(`${TASK}:1`));
    expect(first).toMatchObject({
      head: { status: 200 },
      data: {
        action: {
          kind: "promise.settle",
          head: { status: 200 },
          data: { promise: { id: `${TASK}:1`, state: "resolved", value: { data: "MQ==" } } },
        },
      },
    });
    await sdk(settle(`${TASK}:0`));
    expect(calls).toEqual([]);
    await sdk(settle(`${TASK}:2`));
    expect(calls).toEqual([
      [
        `create ${TASK}:0`,
        `settle ${TASK}:0`,
        `create ${TASK}:1`,
        `settle ${TASK}:1`,
        `create ${TASK}:2`,
        `settle ${TASK}:2`,
      ],
    ]);
    expect(steps.stats.deferredResults).toBe(3);
  });

  it("in a fan-in settled out of order, the last result to arrive carries every branch, in the SDK's order", async () => {
    const { calls, sdk } = harness();
    for (let i = 0; i < 3; i++) await sdk(create(`${TASK}:${i}`));
    for (const i of [2, 0, 1]) await sdk(settle(`${TASK}:${i}`));
    await sdk(fulfill);
    expect(calls).toEqual([
      [0, 1, 2].flatMap((i) => [`create ${TASK}:${i}`, `settle ${TASK}:${i}`]),
      ["task.fulfill"],
    ]);
  });

  it("starts no new step while a result waits: the results are committed first, in the same call", async () => {
    const { calls, sdk } = harness();
    await sdk(create(`${TASK}:0`));
    await sdk(create(`${TASK}:1`));
    await sdk(settle(`${TASK}:0`));
    expect(calls).toEqual([]);
    await sdk(create(`${TASK}:2`));
    expect(calls).toEqual([[`create ${TASK}:0`, `settle ${TASK}:0`, `create ${TASK}:1`, `create ${TASK}:2`]]);
  });

  it("sends waiting results before any other request concerning the task", async () => {
    const { calls, sdk } = harness();
    await sdk(create(`${TASK}:0`));
    await sdk(create(`${TASK}:1`));
    await sdk(settle(`${TASK}:0`));
    await sdk(fulfill);
    expect(calls).toEqual([[`create ${TASK}:0`, `settle ${TASK}:0`, `create ${TASK}:1`, "task.fulfill"]]);
  });

  it("keeps no result waiting past the moment its step counts as running, nor beyond the lease", async () => {
    const { calls, sdk } = harness({ startedAfterMs: 50 });
    await sdk(create(`${TASK}:0`));
    await sdk(create(`${TASK}:1`));
    await sdk(settle(`${TASK}:0`));
    await new Promise((r) => setTimeout(r, 120));
    // Each create goes once it is old enough: the two together, or a millisecond apart in two calls.
    expect(calls[0]!.slice(0, 2)).toEqual([`create ${TASK}:0`, `settle ${TASK}:0`]);
    expect(calls.flat()).toEqual([`create ${TASK}:0`, `settle ${TASK}:0`, `create ${TASK}:1`]);

    let lease = true;
    const lapsed = harness({ lease: () => lease });
    await lapsed.sdk(create(`${TASK}:0`));
    await lapsed.sdk(create(`${TASK}:1`));
    lease = false;
    await lapsed.sdk(settle(`${TASK}:0`));
    expect(lapsed.calls).toEqual([[`create ${TASK}:0`, `settle ${TASK}:0`]]);
  });

  it("sends a request naming a deferred step (a read of it) after that step's create", async () => {
    const { calls, sdk } = harness();
    await sdk(create(`${TASK}:0`));
    await sdk({ kind: "promise.get", head, data: { id: `${TASK}:0` } });
    expect(calls).toEqual([[`create ${TASK}:0`, "promise.get"]]);
  });

  it("records a step that runs longer than the threshold as started while it runs", async () => {
    const { steps, calls, sdk } = harness({ startedAfterMs: 50 });
    await sdk(create(`${TASK}:0`));
    await new Promise((r) => setTimeout(r, 120));
    expect(calls).toEqual([[`create ${TASK}:0`]]);
    expect(steps.stats.startedInBackground).toBe(1);
    await sdk(settle(`${TASK}:0`));
    expect(calls).toEqual([[`create ${TASK}:0`], [`settle ${TASK}:0`]]);
  });

  it("answers a step's result at once and writes it meanwhile; the next step starts once it is committed", async () => {
    let commit = () => {};
    const committed = new Promise<void>((r) => {
      commit = r;
    });
    const { calls, sdk } = harness({ slow: () => committed });
    await sdk(create(`${TASK}:0`));
    expect(await sdk(settle(`${TASK}:0`))).toMatchObject({
      data: { action: { head: { status: 200 }, data: { promise: { id: `${TASK}:0`, state: "resolved" } } } },
    });
    expect(calls).toEqual([[`create ${TASK}:0`, `settle ${TASK}:0`]]);
    let started = false;
    const next = sdk(create(`${TASK}:1`)).then(() => {
      started = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(started).toBe(false);
    commit();
    await next;
    expect(calls).toHaveLength(1);
  });

  it("hands a step's write to the store before the SDK hears the result, not after its continuation", async () => {
    const { steps, calls, sdk } = harness();
    await sdk(create(`${TASK}:0`));
    // Nothing awaited between the result's send and the check: the write went out within the call.
    const answered = steps.send(settle(`${TASK}:0`));
    expect(calls).toEqual([[`create ${TASK}:0`, `settle ${TASK}:0`]]);
    await answered;
    // A call already in flight for the task still goes first: the next one waits its turn.
    const slowHarness = harness({ slow: () => new Promise((r) => setTimeout(r, 20)) });
    await slowHarness.sdk(create(`${TASK}:0`));
    await slowHarness.sdk(settle(`${TASK}:0`));
    const during = slowHarness.sdk(fulfill);
    expect(slowHarness.calls).toEqual([[`create ${TASK}:0`, `settle ${TASK}:0`]]);
    await during;
    expect(slowHarness.calls).toEqual([[`create ${TASK}:0`, `settle ${TASK}:0`], ["task.fulfill"]]);
  });

  it("writes a result again when its write fails, and the next step waits for it", async () => {
    let failures = 2;
    const { calls, sdk } = harness({ failNext: () => failures-- > 0 });
    await sdk(create(`${TASK}:0`));
    await sdk(settle(`${TASK}:0`));
    const next = await sdk(create(`${TASK}:1`));
    expect(failures).toBeLessThan(0);
    expect(calls).toEqual([[`create ${TASK}:0`, `settle ${TASK}:0`]]);
    // The write succeeded before the next step's create was answered, here, as a new step's is.
    expect(next).toMatchObject({
      data: { action: { data: { promise: { id: `${TASK}:1`, state: "pending" } } } },
    });
  });

  it("leaves a result it could not write for the task's next request, which carries it", async () => {
    let failures = 1;
    const { calls, sdk } = harness({ writeRetryMs: 0, failNext: () => failures-- > 0 });
    await sdk(create(`${TASK}:0`));
    await sdk(settle(`${TASK}:0`));
    await sdk(create(`${TASK}:1`));
    expect(calls).toEqual([[`create ${TASK}:0`, `settle ${TASK}:0`, `create ${TASK}:1`]]);
  });

  it("writes a result again when the store did not apply it (a conflict that outlasted its retries)", async () => {
    let conflicts = 1;
    const { calls, sdk } = harness({
      store: (req) => (conflicts > 0 && req.kind === "task.fence" ? conflict(req) : undefined),
    });
    await sdk(create(`${TASK}:0`));
    await sdk(settle(`${TASK}:0`));
    // The first write met the conflict; the next step waits until the result is written.
    const next = sdk(create(`${TASK}:1`));
    await new Promise((r) => setTimeout(r, 10));
    conflicts = 0;
    expect(await next).toMatchObject({ data: { action: { data: { promise: { state: "pending" } } } } });
    expect(calls[0]).toEqual([`create ${TASK}:0`, `settle ${TASK}:0`]);
    expect(calls.at(-1)).toEqual([`create ${TASK}:0`, `settle ${TASK}:0`]);
    // Still answered here: the task was not given up.
    expect(calls.flat()).not.toContain(`create ${TASK}:1`);
  });

  it("takes a result found already written (its earlier write's answer was lost) as written", async () => {
    const written = new Set<string>();
    let lose = 1;
    const { calls, sdk } = harness({
      failNext: () => {
        // The call is applied, then its answer is lost.
        if (lose-- > 0) {
          written.add(`${TASK}:0`);
          return true;
        }
        return false;
      },
      store: (req) =>
        req.kind === "task.fence" && written.has(req.data.action.data.id) ? settledAnswer(req) : undefined,
    });
    await sdk(create(`${TASK}:0`));
    await sdk(settle(`${TASK}:0`));
    await sdk(create(`${TASK}:1`));
    expect(calls).toEqual([[`create ${TASK}:0`, `settle ${TASK}:0`]]);
    await sdk(settle(`${TASK}:1`));
    expect(calls.at(-1)).toEqual([`create ${TASK}:1`, `settle ${TASK}:1`]);
  });

  it("starts no new step while results travel in a call of their own, only once they are committed", async () => {
    let commit = () => {};
    const committed = new Promise<void>((r) => {
      commit = r;
    });
    const { calls, sdk } = harness({ startedAfterMs: 20, slow: () => committed });
    await sdk(create(`${TASK}:0`));
    await sdk(create(`${TASK}:1`));
    await sdk(settle(`${TASK}:0`));
    // The background start takes the waiting result along with both creates, and waits for the store.
    await new Promise((r) => setTimeout(r, 60));
    expect(calls.flat().slice(0, 2)).toEqual([`create ${TASK}:0`, `settle ${TASK}:0`]);
    let answered = false;
    const third = sdk(create(`${TASK}:2`)).then(() => {
      answered = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(answered).toBe(false);
    commit();
    await third;
    expect(calls.at(-1)).toEqual([`create ${TASK}:2`]);
  });

  it("once peers may have released the task, starts no step here but still answers a result here", async () => {
    let lost = false;
    const { calls, sdk } = harness({ sessionLost: () => lost });
    await sdk(create(`${TASK}:0`));
    lost = true;
    // The result goes in the background, as before: nothing starts until the store has taken it.
    await sdk(settle(`${TASK}:0`));
    await sdk(create(`${TASK}:1`));
    expect(calls).toEqual([[`create ${TASK}:0`, `settle ${TASK}:0`], [`create ${TASK}:1`]]);
  });

  it("answers nothing more for a task whose write the store refused: its next request goes to the store", async () => {
    const { calls, sdk } = harness({ refuse: true });
    await sdk(create(`${TASK}:0`));
    await sdk(settle(`${TASK}:0`));
    const next = await sdk(create(`${TASK}:1`));
    expect(calls).toEqual([[`create ${TASK}:0`, `settle ${TASK}:0`], [`create ${TASK}:1`]]);
    expect(next.head.status).toBe(409);
  });

  it("keeps the results a failed fulfill carried for the release that follows it", async () => {
    let failures = 2;
    const { calls, sdk } = harness({ writeRetryMs: 0, failNext: () => failures-- > 0 });
    await sdk(create(`${TASK}:0`));
    await sdk(settle(`${TASK}:0`));
    await expect(sdk(fulfill)).rejects.toThrow("connection lost");
    await sdk({ kind: "task.release", head, data: { id: TASK, version: 1 } });
    expect(calls).toEqual([[`create ${TASK}:0`, `settle ${TASK}:0`, "task.release"]]);
  });

  it("forgets a task's steps when its execution ends, so a stale execution's requests go as sent", async () => {
    const { calls, sdk } = harness();
    await sdk(fulfill);
    await sdk(create(`${TASK}:9`));
    expect(calls).toEqual([["task.fulfill"], [`create ${TASK}:9`]]);
  });
});
