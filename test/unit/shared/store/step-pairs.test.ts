// Local steps' pairs in compact form (functions/shared/store/step-pairs.ts): which runs of a unit are
// compacted, and how the store's written times become the answers the SDK gets, with the null-free
// copies of param, tags and value they carry (answers.ts). That these answers equal the store's own for
// the full requests is checked against the store in test/resonate/adapter-entry-points.test.ts.
import type { Request } from "@resonatehq/sdk";
import { describe, expect, it } from "vitest";
import { withoutNulls } from "../../../../functions/shared/store/answers.ts";
import { compact, expand, loneStep } from "../../../../functions/shared/store/step-pairs.ts";

let n = 0;
const head = () => ({ corrId: `c${++n}`, version: "v" });
const fence = (task: string, action: object, version = 1) =>
  ({ kind: "task.fence", head: head(), data: { id: task, version, action } }) as Request;
const create = (task: string, id: string, version = 1) =>
  fence(
    task,
    {
      kind: "promise.create",
      head: head(),
      data: { id, timeoutAt: 9e12, param: { data: "p", gone: null }, tags: { "resonate:scope": "local" } },
    },
    version,
  );
const settle = (task: string, id: string, version = 1) =>
  fence(
    task,
    { kind: "promise.settle", head: head(), data: { id, state: "resolved", value: { data: "v" } } },
    version,
  );
// biome-ignore lint/suspicious/noExplicitAny: protocol records are untyped JSON here.
type Json = any;
const get = (id: string) => ({ kind: "promise.get", head: head(), data: { id } }) as Request;

describe("compact", () => {
  it("sends each run of one task's pairs as one element and everything else as written", () => {
    const unit = [
      get("x"),
      create("t", "t:0"),
      settle("t", "t:0"),
      create("t", "t:1"),
      settle("t", "t:1"),
      create("u", "u:0"),
      settle("u", "u:0"),
      create("t", "t:2"),
      get("y"),
    ];
    const { wire } = compact(unit);
    expect(wire).toEqual([
      unit[0],
      {
        kind: "steps.fused",
        id: "t",
        version: 1,
        steps: [
          ["t:0", 9e12, { data: "p", gone: null }, { "resonate:scope": "local" }, "resolved", { data: "v" }],
          ["t:1", 9e12, { data: "p", gone: null }, { "resonate:scope": "local" }, "resolved", { data: "v" }],
        ],
      },
      { kind: "steps.fused", id: "u", version: 1, steps: [expect.arrayContaining(["u:0"])] },
      unit[7],
      unit[8],
    ]);
  });

  it("leaves a create and a settle of different steps, tasks or versions as written", () => {
    for (const unit of [
      [create("t", "t:0"), settle("t", "t:1")],
      [create("t", "t:0"), settle("u", "t:0")],
      [create("t", "t:0", 1), settle("t", "t:0", 2)],
      [settle("t", "t:0"), create("t", "t:0")],
    ])
      expect(compact(unit).wire).toEqual(unit);
  });
});

describe("expand", () => {
  const unit = [get("x"), create("t", "t:0"), settle("t", "t:0"), create("t", "t:1"), settle("t", "t:1")];
  const { segments } = compact(unit);
  const got = { kind: "promise.get", head: { corrId: "c-any", status: 200, version: "v" }, data: {} };

  it("answers each written step's pair as the store does: created and settled at the written time", () => {
    const { answers, declined } = expand(segments, [got, [1000, 1001]]);
    expect(declined).toBe(false);
    expect(answers[0]).toBe(got);
    const [c0, s0] = [answers[1] as Json, answers[2] as Json];
    expect(c0.head).toEqual({ ...unit[1]!.head, status: 200 });
    expect(c0.data.action.head).toEqual({ ...(unit[1] as Json).data.action.head, status: 200 });
    expect(c0.data.action.data.promise).toEqual({
      id: "t:0",
      state: "pending",
      param: { data: "p" },
      value: {},
      tags: { "resonate:scope": "local" },
      timeoutAt: 9e12,
      createdAt: 1000,
    });
    expect(s0.data.action.data.promise).toMatchObject({
      id: "t:0",
      state: "resolved",
      param: { data: "p" },
      value: { data: "v" },
      createdAt: 1000,
      settledAt: 1000,
    });
    expect((answers[4] as Json).data.action.data.promise).toMatchObject({ id: "t:1", createdAt: 1001 });
  });

  it("leaves the steps the store declined, and everything after them, unanswered", () => {
    const { answers, declined } = expand(segments, [got, [1000]]);
    expect(declined).toBe(true);
    expect(answers.map((a) => a !== null)).toEqual([true, true, true, false, false]);
  });

  it("answers nothing of a unit the store stopped before, and that is not a decline", () => {
    const { answers, declined } = expand(segments, [null, null]);
    expect(declined).toBe(false);
    expect(answers).toEqual([null, null, null, null, null]);
  });
});

describe("withoutNulls", () => {
  it("copies a JSON value as jsonb_strip_nulls keeps it: null fields gone at every depth, nulls in arrays kept", () => {
    const value = {
      a: null,
      b: { c: null, d: [1, null, { e: null, f: "x" }] },
      g: [],
      h: "",
      i: 0,
      j: false,
    };
    const asJsonText = JSON.parse(JSON.stringify(value, (_k, v) => (v === null ? undefined : v)));
    const copy = withoutNulls(value);
    expect(copy).toStrictEqual(asJsonText);
    expect(copy).toStrictEqual({ b: { d: [1, null, { f: "x" }] }, g: [], h: "", i: 0, j: false });
    expect(copy.b).not.toBe(value.b);
  });
});

describe("loneStep", () => {
  it("gives resonate_step's typed arguments for one step's pair alone, and nothing for anything else", () => {
    expect(loneStep(compact([create("t", "t:0"), settle("t", "t:0")]))).toEqual([
      "t",
      1,
      "t:0",
      9e12,
      '{"data":"p","gone":null}',
      '{"resonate:scope":"local"}',
      "resolved",
      '{"data":"v"}',
    ]);
    const cases: [string, Request[]][] = [
      ["a run of two", [create("t", "t:0"), settle("t", "t:0"), create("t", "t:1"), settle("t", "t:1")]],
      ["a pair with another request", [get("x"), create("t", "t:0"), settle("t", "t:0")]],
      ["a lone request", [get("x")]],
      ["a version the column cannot take", [create("t", "t:0", 2 ** 31), settle("t", "t:0", 2 ** 31)]],
    ];
    for (const [why, unit] of cases) expect(loneStep(compact(unit)), why).toBeUndefined();
    const fractional = [create("t", "t:0"), settle("t", "t:0")];
    (fractional[0] as Json).data.action.data.timeoutAt = 9e12 + 0.5;
    expect(loneStep(compact(fractional)), "a fractional deadline").toBeUndefined();
  });
});
