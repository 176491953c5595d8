// The concurrency cap for a Resonate Server backend: execute messages beyond the cap wait until an
// execution ends, which the network reads off the SDK's requests (functions/shared/store/executions.ts).
import type { Message, Network, Request } from "@resonatehq/sdk";
import { describe, expect, it } from "vitest";
import { CappedNetwork } from "../../../functions/shared/capped-network.ts";

const head = { corrId: "c", version: "2026-04-01" };

function fakeServer() {
  let deliver: (msg: Message) => void = () => {};
  const inner: Network = {
    unicast: "u",
    anycast: "a",
    match: (t) => t,
    init: async () => {},
    stop: async () => {},
    recv: (cb) => {
      deliver = cb;
    },
    send: (async (req: Request) => {
      if (req.kind === "task.acquire")
        return {
          kind: "task.acquire",
          head: { ...head, status: req.data.id === "refused" ? 409 : 200 },
          data:
            req.data.id === "refused"
              ? "conflict"
              : {
                  task: { id: req.data.id, state: "acquired", version: req.data.version + 1, resumes: [] },
                  promise: {
                    id: req.data.id,
                    state: "pending",
                    param: {},
                    value: {},
                    tags: {},
                    timeoutAt: 0,
                    createdAt: 0,
                  },
                  preload: [],
                },
        };
      return { kind: req.kind, head: { ...head, status: 200 }, data: {} };
    }) as Network["send"],
  };
  const execute = (id: string): Message => ({
    kind: "execute",
    head: {},
    data: { task: { id, version: 0 } },
  });
  return { inner, push: (id: string) => deliver(execute(id)), emit: (m: Message) => deliver(m) };
}

const acquire = (id: string): Request => ({
  kind: "task.acquire",
  head,
  data: { id, version: 0, pid: "p", ttl: 1000 },
});
const fulfill = (id: string): Request => ({
  kind: "task.fulfill",
  head,
  data: {
    id,
    version: 1,
    action: { kind: "promise.settle", head, data: { id, state: "resolved", value: {} } },
  },
});

describe("CappedNetwork", () => {
  it("hands the SDK at most `max` executions at once, the rest in arrival order as executions end", async () => {
    const server = fakeServer();
    const net = new CappedNetwork(server.inner, 2);
    const got: string[] = [];
    net.recv((m) => {
      if (m.kind === "execute") got.push(m.data.task.id);
    });
    for (const id of ["a", "b", "c", "d"]) server.push(id);
    expect(got).toEqual(["a", "b"]);
    expect(net.queued()).toBe(2);
    await net.send(acquire("a"));
    await net.send(acquire("b"));
    expect(net.active()).toBe(2);
    await net.send(fulfill("a"));
    expect(got).toEqual(["a", "b", "c"]);
    await net.send(acquire("c"));
    await net.send(fulfill("b"));
    expect(got).toEqual(["a", "b", "c", "d"]);
    expect(net.queued()).toBe(0);
  });

  it("frees the slot of an execute whose acquire is refused (a stale duplicate)", async () => {
    const server = fakeServer();
    const net = new CappedNetwork(server.inner, 1);
    const got: string[] = [];
    net.recv((m) => {
      if (m.kind === "execute") got.push(m.data.task.id);
    });
    server.push("refused");
    server.push("next");
    expect(got).toEqual(["refused"]);
    await net.send(acquire("refused"));
    expect(got).toEqual(["refused", "next"]);
  });

  it("frees the slot of an execution the SDK gave up before running it, and keeps its release from the server", async () => {
    const server = fakeServer();
    const sent: string[] = [];
    const send = server.inner.send;
    server.inner.send = ((req: Request) => {
      sent.push(req.kind);
      return send(req);
    }) as Network["send"];
    const net = new CappedNetwork(server.inner, 1);
    const got: string[] = [];
    net.recv((m) => {
      if (m.kind === "execute") got.push(m.data.task.id);
    });
    server.push("unregistered");
    server.push("next");
    await net.send(acquire("unregistered"));
    const res = await net.send({ kind: "task.release", head, data: { id: "unregistered", version: 1 } });
    expect(res.head.status).toBe(200);
    expect(sent).toEqual(["task.acquire"]);
    expect(got).toEqual(["unregistered", "next"]);
  });

  it("passes unblock messages through at once", () => {
    const server = fakeServer();
    const net = new CappedNetwork(server.inner, 0);
    const got: string[] = [];
    net.recv((m) => got.push(m.kind));
    server.push("x");
    server.emit({ kind: "unblock", head: {}, data: { promise: {} } } as Message);
    expect(got).toEqual(["unblock"]);
  });
});
