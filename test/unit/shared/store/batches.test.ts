// How requests travel to the store (functions/shared/store/batches.ts), against a recording stand-in:
// what is sent while a call is in flight leaves together in the next call; a call that failed on a
// lock conflict, having committed nothing, is sent again; a unit stopped by a conflict is resumed.
import type { Request, Response } from "@resonatehq/sdk";
import { describe, expect, it } from "vitest";
import { Batches } from "../../../../functions/shared/store/batches.ts";

const get = (id: string): Request => ({
  kind: "promise.get",
  head: { corrId: id, version: "v" },
  data: { id },
});
const ok = (req: Request) => ({ kind: req.kind, head: { ...req.head, status: 200 }, data: {} }) as Response;

function store(script: (units: Request[][], call: number) => (Response | null)[][] | Error) {
  const calls: string[][][] = [];
  return {
    calls,
    db: {
      async query(sql: string, params?: unknown[]) {
        const units: Request[][] = sql.includes("resonate_rpc")
          ? [[JSON.parse(params![0] as string)]]
          : JSON.parse(params![0] as string);
        calls.push(units.map((u) => u.map((r) => r.head.corrId)));
        await new Promise((r) => setTimeout(r, 5));
        const out = script(units, calls.length);
        if (out instanceof Error) throw out;
        return { rows: [{ res: sql.includes("resonate_rpc") ? out[0]![0] : out }] };
      },
    },
  };
}

describe("Batches", () => {
  it("sends what is issued while a call is in flight together in the next call", async () => {
    const s = store((units) => units.map((u) => u.map(ok)));
    const b = new Batches(s.db, 1);
    const answers = await Promise.all([b.send([get("a")]), b.send([get("b")]), b.send([get("c"), get("d")])]);
    expect(answers.map((a) => a.map((r) => r.head.corrId))).toEqual([["a"], ["b"], ["c", "d"]]);
    expect(s.calls).toEqual([[["a"]], [["b"], ["c", "d"]]]);
    expect(b.stats).toEqual({ roundTrips: 2, requests: 4 });
  });

  it("sends a call again that failed on a lock conflict before committing anything", async () => {
    const conflict = Object.assign(new Error("lock timeout"), { code: "55P03" });
    const s = store((units, call) => (call === 1 ? conflict : units.map((u) => u.map(ok))));
    const b = new Batches(s.db, 1);
    const res = await b.send([get("a"), get("b")]);
    expect(res.map((r) => r.head.status)).toEqual([200, 200]);
    expect(s.calls).toEqual([[["a", "b"]], [["a", "b"]]]);
  });

  it("resumes a unit at the request a conflict stopped, keeping the answers before it", async () => {
    const s = store((units, call) => units.map((u) => (call === 1 ? [ok(u[0]!), null, null] : u.map(ok))));
    const b = new Batches(s.db, 1);
    const res = await b.send([get("a"), get("b"), get("c")]);
    expect(res.map((r) => r.head.corrId)).toEqual(["a", "b", "c"]);
    expect(s.calls).toEqual([[["a", "b", "c"]], [["b", "c"]]]);
  });

  it("sends the rest of a unit again at once, as written, where the store declined a step in compact form", async () => {
    const fence = (action: object) => ({
      kind: "task.fence",
      head: { corrId: "f", version: "v" },
      data: { id: "t", version: 1, action },
    });
    const pair = (id: string) =>
      [
        fence({
          kind: "promise.create",
          head: { corrId: `c-${id}`, version: "v" },
          data: { id, timeoutAt: 9e12, param: {}, tags: {} },
        }),
        fence({
          kind: "promise.settle",
          head: { corrId: `s-${id}`, version: "v" },
          data: { id, state: "resolved", value: {} },
        }),
      ] as Request[];
    const sent: { kind: string }[][][] = [];
    const db = {
      async query(_sql: string, params?: unknown[]) {
        const units = JSON.parse(params![0] as string) as { kind: string }[][];
        sent.push(units);
        // First call: the compact run, of which the store writes the first step only.
        return {
          rows: [{ res: sent.length === 1 ? [[[1000]]] : units.map((u) => u.map((r) => ok(r as Request))) }],
        };
      },
    };
    const b = new Batches(db, 1);
    const res = await b.send([...pair("t:0"), ...pair("t:1")]);
    expect(res).toHaveLength(4);
    expect(sent.map((units) => units[0]!.map((r) => r.kind))).toEqual([
      ["steps.fused"],
      ["task.fence", "task.fence"],
    ]);
    expect(b.stats.roundTrips).toBe(2);
  });

  it("rejects every request of a call the database did not answer, sending none again", async () => {
    const s = store(() => new Error("connection terminated"));
    const b = new Batches(s.db, 1);
    const sent = [b.send([get("a")]), b.send([get("b")]), b.send([get("c")])];
    for (const res of sent) await expect(res).rejects.toThrow("connection terminated");
    expect(s.calls).toEqual([[["a"]], [["b"], ["c"]]]);
  });

  it("sends each unit of a call the database refused again alone, so only the unit that caused it fails", async () => {
    const refused = Object.assign(new Error("unsupported Unicode escape sequence"), { code: "22P05" });
    const s = store((units) =>
      units.some((u) => u.some((r) => r.head.corrId === "bad")) ? refused : units.map((u) => u.map(ok)),
    );
    const b = new Batches(s.db, 1);
    const first = b.send([get("a")]);
    const [good, bad, pair] = [b.send([get("b")]), b.send([get("bad")]), b.send([get("c"), get("d")])];
    await expect(bad).rejects.toThrow("unsupported Unicode escape sequence");
    expect((await good).map((r) => r.head.status)).toEqual([200]);
    expect((await pair).map((r) => r.head.status)).toEqual([200, 200]);
    await first;
    expect(s.calls).toEqual([[["a"]], [["b"], ["bad"], ["c", "d"]], [["b"]], [["bad"]], [["c", "d"]]]);
  });
});
