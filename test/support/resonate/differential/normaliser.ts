// Puts reference and schema answers in one canonical form (spec §10.1.5): absent and null fields
// dropped, headers defaulted to {}, resumes and preload compared as sets, error strings ignored,
// task.fence's inner response normalised recursively, and promise records projected to their
// logical state at the step's time.
import type { Json } from "./generator.ts";

function timeoutState(tags: Json): string {
  return tags?.["resonate:timer"] === "true" ? "resolved" : "rejected_timedout";
}

function normValue(v: Json): Json {
  const out: Json = { headers: v?.headers ?? {} };
  if (v?.data !== undefined && v?.data !== null && v?.data !== "") out.data = v.data;
  return out;
}

export function normPromise(p: Json, now?: number): Json {
  let state = p.state;
  let settledAt = p.settledAt ?? undefined;
  if (now !== undefined && state === "pending" && now >= p.timeoutAt) {
    state = timeoutState(p.tags);
    settledAt = p.timeoutAt;
  }
  const out: Json = {
    id: p.id,
    state,
    param: normValue(p.param),
    value: normValue(p.value),
    tags: stripNulls(p.tags ?? {}),
    timeoutAt: p.timeoutAt,
    createdAt: p.createdAt,
  };
  if (settledAt !== undefined) out.settledAt = settledAt;
  return out;
}

export function normTask(t: Json): Json {
  const out: Json = { id: t.id, state: t.state, version: t.version, resumes: [...(t.resumes ?? [])].sort() };
  if (t.pid !== undefined && t.pid !== null) out.pid = t.pid;
  if (t.ttl !== undefined && t.ttl !== null) out.ttl = t.ttl;
  return out;
}

function normSchedule(s: Json): Json {
  return stripNulls({ ...s, promiseParam: normValue(s.promiseParam) });
}

function stripNulls(x: Json): Json {
  if (Array.isArray(x)) return x.map(stripNulls);
  if (x && typeof x === "object") {
    const out: Json = {};
    for (const [k, v] of Object.entries(x)) if (v !== null && v !== undefined) out[k] = stripNulls(v);
    return out;
  }
  return x;
}

const byId = (a: Json, b: Json) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The comparable part of a response: its status, and for 200/300 its normalised body. */
export function normResponse(res: Json, now: number): Json {
  const status = res.head.status;
  if (status !== 200 && status !== 300) return { status };
  return { status, data: normData(res.kind, res.data, now) };
}

function normData(kind: string, data: Json, now: number): Json {
  if (data === null || data === undefined || typeof data !== "object" || Array.isArray(data)) return data;
  const out: Json = {};
  for (const [k, v] of Object.entries(data)) {
    if (v === null || v === undefined) continue;
    if (k === "promise") out.promise = normPromise(v, now);
    else if (k === "task") out.task = normTask(v);
    else if (k === "schedule") out.schedule = normSchedule(v);
    else if (k === "preload") out.preload = (v as Json[]).map((p) => normPromise(p, now)).sort(byId);
    else if (k === "action" && kind === "task.fence") out.action = normResponse(v, now);
    else out[k] = stripNulls(v);
  }
  return out;
}

/** A message as a comparable string: kind, address, task id and version, or the whole record. */
export function messageKey(address: string, kind: string, payload: Json): string {
  if (kind === "execute") return `execute ${address} ${payload.id}@${payload.version}`;
  return `unblock ${address} ${JSON.stringify(canonical(normPromise(payload)))}`;
}

export function snapTables(snap: Json): Json {
  return {
    promises: snap.promises.map((p: Json) => normPromise(p)).sort(byId),
    tasks: snap.tasks.map(normTask).sort(byId),
    callbacks: snap.callbacks.map((c: Json) => `${c.awaited} <- ${c.awaiter}`).sort(),
    listeners: snap.listeners.map((l: Json) => `${l.id} -> ${l.address}`).sort(),
    promiseTimeouts: snap.promiseTimeouts.map((t: Json) => `${t.id}@${t.timeout}`).sort(),
    taskTimeouts: snap.taskTimeouts.map((t: Json) => `${t.id}:${t.type}@${t.timeout}`).sort(),
  };
}

/** Objects with their keys sorted, so that JSON text compares by content. */
export function canonical(x: Json): Json {
  if (Array.isArray(x)) return x.map(canonical);
  if (x && typeof x === "object") {
    return Object.fromEntries(
      Object.keys(x)
        .sort()
        .map((k) => [k, canonical(x[k])]),
    );
  }
  return x;
}
