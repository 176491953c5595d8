// The store's answers to a local step's fenced create and settle, built here as resonate_rpc builds
// them, for the places the adapter knows them without asking: a step's start answered at once
// (steps.ts) and a run of steps whose writes the store confirmed by their times only (step-pairs.ts).
import type { Request, Response } from "@resonatehq/sdk";

export type Fence = Extract<Request, { kind: "task.fence" }>;
export type CreateAction = Extract<Fence["data"]["action"], { kind: "promise.create" }>;
export type SettleAction = Extract<Fence["data"]["action"], { kind: "promise.settle" }>;
type FencedAction = Extract<Response, { kind: "task.fence"; data: { preload: unknown } }>["data"]["action"];
type PromiseRecord = Extract<
  FencedAction,
  { kind: "promise.create"; head: { status: 200 } }
>["data"]["promise"];

/** What the store answers to a fenced create of a new local step: the promise, pending. */
export function startedAnswer(req: Fence, createdAt: number): Response {
  const d = (req.data.action as CreateAction).data;
  return fencedAnswer(req, {
    id: d.id,
    state: "pending",
    param: withoutNulls(d.param),
    value: {},
    tags: withoutNulls(d.tags),
    // The store keeps whole milliseconds.
    timeoutAt: Math.floor(d.timeoutAt),
    createdAt,
  });
}

/** What the store answers to a fenced settle of a local step created by `create`: the promise, settled. */
export function settledAnswer(create: Fence, req: Fence, createdAt: number, settledAt: number): Response {
  const c = (create.data.action as CreateAction).data;
  const s = (req.data.action as SettleAction).data;
  return fencedAnswer(req, {
    id: c.id,
    state: s.state,
    param: withoutNulls(c.param),
    value: withoutNulls(s.value),
    tags: withoutNulls(c.tags),
    timeoutAt: Math.floor(c.timeoutAt),
    createdAt,
    settledAt,
  });
}

/** A fence's 200 answer with its action's 200 answer carrying this promise, as resonate_rpc builds it. */
function fencedAnswer(req: Fence, promise: PromiseRecord): Response {
  const action = req.data.action;
  const answer = {
    kind: action.kind,
    head: okHead(action.head),
    data: { promise },
  } as FencedAction;
  return { kind: "task.fence", head: okHead(req.head), data: { action: answer, preload: [] } };
}

/** A 200 answer's head: the request's corrId and version, left out when absent (no JSON nulls). */
function okHead(head: { corrId?: string; version?: string }) {
  return withoutNulls({ corrId: head.corrId, status: 200 as const, version: head.version }) as {
    corrId: string;
    status: 200;
    version: string;
  };
}

/** As the store keeps JSON objects: a copy without null fields (jsonb_strip_nulls), nulls in arrays
 *  kept. Copied by walking it rather than through JSON text: it runs six times per step answered here. */
export function withoutNulls<T>(value: T): T {
  return strip(value) as T;
}

function strip(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : strip(v)));
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = strip(v);
  return out;
}
