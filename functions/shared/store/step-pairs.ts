// Local steps' pairs in compact form. A unit often holds runs of a step's fenced create followed by
// its fenced settle, under one task: one for a sequential step, a hundred for a fan-in. Sent as they
// are, the store parses and checks every request's envelope and builds every answer's, which cost
// most of such a call; in compact form a run is one element (the task and version once, then per step
// its id, deadline, param, tags, state and value) that resonate._steps_fused writes, answering only
// the time each step was written. The answers the SDK gets are built here from the requests and those
// times, exactly as the store builds them for the full requests. A step the fast path would not take
// (the fence refuses, the step exists, a deadline passed, ...) stops the unit there unwritten: the
// rest of the unit answers null and goes again in full, where the store answers it request by request.
import type { Request, Response } from "@resonatehq/sdk";
import { type CreateAction, type Fence, type SettleAction, settledAnswer, startedAnswer } from "./answers.ts";

type Pair = [create: Fence, settle: Fence];
type Segment = { request: Request } | { pairs: Pair[] };

export interface Compacted {
  /** What travels to resonate_batch for the unit. */
  wire: unknown[];
  segments: Segment[];
}

export interface Expanded {
  /** One answer per request of the unit; null for those the store did not run. */
  answers: (Response | null)[];
  /** Whether the store stopped at a step it would not write in compact form (not a lock conflict). */
  declined: boolean;
}

export function compact(unit: Request[]): Compacted {
  const wire: unknown[] = [];
  const segments: Segment[] = [];
  let i = 0;
  while (i < unit.length) {
    const first = pairAt(unit, i);
    if (!first) {
      wire.push(unit[i]);
      segments.push({ request: unit[i]! });
      i++;
      continue;
    }
    const pairs: Pair[] = [first];
    i += 2;
    for (let next = pairAt(unit, i); next && sameTask(first, next); next = pairAt(unit, i)) {
      pairs.push(next);
      i += 2;
    }
    const [create] = first;
    wire.push({
      kind: "steps.fused",
      id: create.data.id,
      version: create.data.version,
      steps: pairs.map(([c, s]) => {
        const cd = (c.data.action as CreateAction).data;
        const sd = (s.data.action as SettleAction).data;
        return [cd.id, cd.timeoutAt, cd.param, cd.tags, sd.state, sd.value];
      }),
    });
    segments.push({ pairs });
  }
  return { wire, segments };
}

/**
 * The arguments of resonate.resonate_step for a unit that is one step's pair alone (a sequential step):
 * task, version, step id, deadline, param, tags, state, value. Typed arguments instead of the compact
 * element's JSON, which the store would parse and the answer's envelope with it. Undefined for anything
 * else, and for a version or deadline that is not a whole number the columns take, which the general
 * path reports.
 */
export function loneStep({ wire }: Compacted): unknown[] | undefined {
  if (wire.length !== 1) return undefined;
  const run = wire[0] as { kind?: string; id?: unknown; version?: unknown; steps?: unknown[][] };
  if (run.kind !== "steps.fused" || run.steps?.length !== 1) return undefined;
  const [id, timeoutAt, param, tags, state, value] = run.steps[0]!;
  if (!Number.isInteger(run.version) || Math.abs(run.version as number) >= 2 ** 31) return undefined;
  if (!Number.isSafeInteger(timeoutAt)) return undefined;
  return [
    run.id,
    run.version,
    id,
    timeoutAt,
    JSON.stringify(param),
    JSON.stringify(tags),
    state,
    JSON.stringify(value),
  ];
}

/** The unit's answers from the store's answers to its wire elements (null for a unit stopped before it). */
export function expand(segments: Segment[], answers: unknown[] | null): Expanded {
  const out: (Response | null)[] = [];
  let declined = false;
  segments.forEach((seg, k) => {
    const answer = answers?.[k] ?? null;
    if ("request" in seg) {
      out.push(answer as Response | null);
      return;
    }
    const written = answer as number[] | null;
    seg.pairs.forEach(([create, settle], j) => {
      const at = written?.[j];
      if (at === undefined) out.push(null, null);
      else out.push(startedAnswer(create, at), settledAnswer(create, settle, at, at));
    });
    if (written && written.length < seg.pairs.length) declined = true;
  });
  return { answers: out, declined };
}

/** The local step's pair that starts at unit[i], if one does. */
function pairAt(unit: Request[], i: number): Pair | undefined {
  const c = unit[i];
  const s = unit[i + 1];
  if (c?.kind !== "task.fence" || s?.kind !== "task.fence") return undefined;
  if (c.data.action.kind !== "promise.create" || s.data.action.kind !== "promise.settle") return undefined;
  const cd = c.data.action.data;
  const sd = s.data.action.data;
  if (typeof c.data.id !== "string" || c.data.id !== s.data.id || c.data.version !== s.data.version)
    return undefined;
  if (typeof cd.id !== "string" || cd.id !== sd.id || typeof cd.timeoutAt !== "number") return undefined;
  if (!isObject(cd.param) || !isObject(cd.tags) || typeof sd.state !== "string" || !isObject(sd.value))
    return undefined;
  return [c, s];
}

function sameTask([a]: Pair, [b]: Pair): boolean {
  return a.data.id === b.data.id && a.data.version === b.data.version;
}

/** A JSON object (not an array, not null): the shape param, tags and value must have. */
export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}
