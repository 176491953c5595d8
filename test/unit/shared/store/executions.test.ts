// When the network takes a task's lease as surely held (functions/shared/store/executions.ts), which
// is what lets it answer a step's create without asking the store: from the acquire, renewed only by a
// heartbeat answered while the lease still held; and no step started without the store's fence once
// the mailbox's session was lost (or while it was away); and how long a delivered execute message
// holds its concurrency slot.
import type { Request, Response } from "@resonatehq/sdk";
import { describe, expect, it, vi } from "vitest";
import { Executions } from "../../../../functions/shared/store/executions.ts";

const head = { corrId: "c", version: "2026-04-01" };
const TASK = "wf";

const acquire = (ttl: number): Request => ({
  kind: "task.acquire",
  head,
  data: { id: TASK, version: 0, pid: "p", ttl },
});

const acquiredAt = (version: number, promise: Record<string, unknown> = {}) =>
  ({
    kind: "task.acquire",
    head: { ...head, status: 200 },
    data: {
      task: { id: TASK, state: "acquired", version, resumes: [] },
      promise: {
        id: TASK,
        state: "pending",
        param: {},
        value: {},
        tags: {},
        timeoutAt: 0,
        createdAt: 0,
        ...promise,
      },
      preload: [],
    },
  }) as Response;

/** The SDK's encoding of a param: base64 of JSON. */
const encoded = (value: unknown) => ({ headers: {}, data: btoa(JSON.stringify(value)) });

function acquired(ex: Executions, ttl: number): void {
  ex.track(acquire(ttl))(acquiredAt(1));
}

function heartbeat(ex: Executions): void {
  const req: Request = {
    kind: "task.heartbeat",
    head,
    data: { pid: "p", tasks: [{ id: TASK, version: 1 }] },
  };
  ex.track(req)({ kind: "task.heartbeat", head: { ...head, status: 200 }, data: {} } as Response);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Executions: whether a task's lease surely holds", () => {
  it("holds from the acquire for its ttl, and a heartbeat answered meanwhile renews it", async () => {
    const ex = new Executions(() => {});
    acquired(ex, 80);
    expect(ex.leaseHolds(TASK, 1)).toBe(true);
    expect(ex.leaseHolds(TASK, 2)).toBe(false);
    await sleep(50);
    heartbeat(ex);
    await sleep(50);
    expect(ex.leaseHolds(TASK, 1)).toBe(true);
  });

  it("takes no renewal from a heartbeat answered after the lease lapsed: the store may have released it", async () => {
    const ex = new Executions(() => {});
    acquired(ex, 20);
    await sleep(40);
    expect(ex.leaseHolds(TASK, 1)).toBe(false);
    // The store answers 200 although it renewed nothing.
    heartbeat(ex);
    expect(ex.leaseHolds(TASK, 1)).toBe(false);
  });

  it("starts no step without the store once the mailbox's session was lost; the lease itself still counts", () => {
    const ex = new Executions(() => {});
    acquired(ex, 60_000);
    expect(ex.mayStartSteps(TASK, 1)).toBe(true);
    ex.sessionLost();
    expect(ex.mayStartSteps(TASK, 1)).toBe(false);
    heartbeat(ex);
    expect(ex.mayStartSteps(TASK, 1)).toBe(false);
    expect(ex.leaseHolds(TASK, 1)).toBe(true);
    // An execution acquired after the session came back starts steps here again.
    ex.sessionBack();
    acquired(ex, 60_000);
    expect(ex.mayStartSteps(TASK, 1)).toBe(true);
  });

  it("starts no step without the store in an execution acquired while the session was away: peers may release it too", () => {
    const ex = new Executions(() => {});
    ex.sessionLost();
    acquired(ex, 60_000);
    expect(ex.mayStartSteps(TASK, 1)).toBe(false);
    // Nor in one whose acquire was sent before a loss and answered after the session came back: it may
    // have been committed while the session was away.
    ex.sessionBack();
    const outcome = ex.track(acquire(60_000));
    ex.sessionLost();
    ex.sessionBack();
    outcome(acquiredAt(2));
    expect(ex.mayStartSteps(TASK, 2)).toBe(false);
  });
});

describe("Executions: the concurrency slots", () => {
  it("keeps the slot of a delivered message while its acquire is in flight, however long the store takes", () => {
    let now = 1_000;
    const clock = vi.spyOn(performance, "now").mockImplementation(() => now);
    try {
      const ex = new Executions(() => {});
      ex.deliver(TASK);
      const outcome = ex.track(acquire(60_000));
      // The acquire waits on the store (a lock, a stalled flush) longer than an unacted message is kept.
      now += 60_000;
      expect(ex.slotsUsed()).toBe(1);
      expect(ex.keep()).toEqual([TASK]);
      outcome(acquiredAt(1));
      expect(ex.slotsUsed()).toBe(1);
    } finally {
      clock.mockRestore();
    }
  });

  it("gives up the slot of a delivered message whose acquire never came", () => {
    let now = 1_000;
    const clock = vi.spyOn(performance, "now").mockImplementation(() => now);
    try {
      const ex = new Executions(() => {});
      ex.deliver(TASK);
      expect(ex.slotsUsed()).toBe(1);
      now += 60_000;
      expect(ex.slotsUsed()).toBe(0);
    } finally {
      clock.mockRestore();
    }
  });
});

describe("Executions: an acquisition the SDK ends without another request", () => {
  it("runs one whose promise the SDK decodes", () => {
    const ex = new Executions(() => {});
    ex.deliver(TASK);
    ex.track(acquire(60_000))(acquiredAt(1, { param: encoded({ func: "f", args: [1] }) }));
    expect(ex.slotsUsed()).toBe(1);
    expect(ex.held()).toEqual([{ id: TASK, version: 1 }]);
  });

  it("frees the slot of a task whose promise the SDK cannot decode, and keeps it from the sweep for its lease", () => {
    let now = 1_000;
    const clock = vi.spyOn(performance, "now").mockImplementation(() => now);
    try {
      let freed = 0;
      const undecodable: unknown[] = [];
      const ex = new Executions(
        () => freed++,
        (task, error) => undecodable.push({ task, error }),
      );
      ex.deliver(TASK);
      ex.track(acquire(60_000))(acquiredAt(1, { param: { headers: {}, data: "not base64 of JSON" } }));
      expect(freed).toBe(1);
      expect(undecodable).toEqual([{ task: { id: TASK, version: 1 }, error: expect.any(String) }]);
      expect(ex.slotsUsed()).toBe(0);
      expect(ex.active()).toBe(0);
      expect(ex.held()).toEqual([]);
      expect(ex.leaseHolds(TASK, 1)).toBe(false);
      // Left acquired until its lease lapses: a sweep releasing it sooner would have it offered again.
      now += 59_000;
      expect(ex.keep()).toEqual([TASK]);
      now += 1_000;
      expect(ex.keep()).toEqual([]);
    } finally {
      clock.mockRestore();
    }
  });

  it("treats a timer that is not yet due, which the SDK drops, the same way, without a warning", () => {
    let now = 1_000;
    const clock = vi.spyOn(performance, "now").mockImplementation(() => now);
    try {
      const undecodable: unknown[] = [];
      const ex = new Executions(
        () => {},
        (task) => undecodable.push(task),
      );
      ex.deliver(TASK);
      ex.track(acquire(10_000))(acquiredAt(3, { tags: { "resonate:timer": "true" } }));
      expect(ex.slotsUsed()).toBe(0);
      expect(ex.keep()).toEqual([TASK]);
      expect(undecodable).toEqual([]);
      now += 10_000;
      expect(ex.keep()).toEqual([]);
    } finally {
      clock.mockRestore();
    }
  });

  it("forgets a running execution of the task when the task is acquired again and dropped", () => {
    let freed = 0;
    const ex = new Executions(() => freed++);
    ex.deliver(TASK);
    ex.track(acquire(60_000))(acquiredAt(1, { param: encoded({ func: "f", args: [] }) }));
    ex.deliver(TASK);
    ex.track(acquire(60_000))(acquiredAt(2, { param: { headers: {}, data: "%%%" } }));
    expect(ex.slotsUsed()).toBe(0);
    expect(ex.held()).toEqual([]);
    expect(freed).toBe(2);
  });
});

describe("Executions: a release the SDK sends before it ran anything of its task", () => {
  const release = (version: number): Request => ({ kind: "task.release", head, data: { id: TASK, version } });
  const fence: Request = {
    kind: "task.fence",
    head,
    data: {
      id: TASK,
      version: 1,
      action: { kind: "promise.create", head, data: { id: `${TASK}:0`, timeoutAt: 0, param: {}, tags: {} } },
    },
  };

  it("ends the execution and leaves its task to its lease, for a release straight after the acquire", () => {
    let now = 1_000;
    const clock = vi.spyOn(performance, "now").mockImplementation(() => now);
    try {
      let freed = 0;
      const ex = new Executions(() => freed++);
      ex.deliver(TASK);
      ex.track(acquire(60_000))(acquiredAt(1));
      expect(ex.givesUpUnstarted(release(1))).toBe(true);
      expect(freed).toBe(1);
      expect(ex.slotsUsed()).toBe(0);
      expect(ex.held()).toEqual([]);
      now += 59_000;
      expect(ex.keep()).toEqual([TASK]);
      now += 1_000;
      expect(ex.keep()).toEqual([]);
    } finally {
      clock.mockRestore();
    }
  });

  it("lets a release go to the store once the execution sent something concerning its task", () => {
    const ex = new Executions(() => {});
    ex.deliver(TASK);
    ex.track(acquire(60_000))(acquiredAt(1));
    ex.track(fence)(undefined);
    expect(ex.givesUpUnstarted(release(1))).toBe(false);
    expect(ex.slotsUsed()).toBe(1);
  });

  it("lets any other release go to the store: another version's, one for a task not running here", () => {
    const ex = new Executions(() => {});
    expect(ex.givesUpUnstarted(release(1))).toBe(false);
    ex.deliver(TASK);
    ex.track(acquire(60_000))(acquiredAt(2));
    expect(ex.givesUpUnstarted(release(1))).toBe(false);
    expect(ex.held()).toEqual([{ id: TASK, version: 2 }]);
  });
});
