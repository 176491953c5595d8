// Applies one seeded request sequence to the SDK's reference Server and to the resonate schema, and
// compares them step by step: statuses, normalised bodies and the messages each step emits; at the
// end, the reference's debug.snap against the schema's tables.
//
// The reference runs in timeoutMode "eager", the mode the schema implements, with the intentional
// deviations below applied to it so that everything else must match exactly.
process.env.TZ = "UTC"; // the reference evaluates cron in the process time zone; the schema uses UTC.

import type pg from "pg";
import { Server } from "../../../../node_modules/@resonatehq/sdk/dist/src/network/local.js";
import { ADDRESSES, Generator, type Json, type Step } from "./generator.ts";
import { canonical, messageKey, normResponse, snapTables } from "./normaliser.ts";

const SETTLE_STATES = ["resolved", "rejected", "rejected_canceled"];

/**
 * Intentional deviations of the schema from the 0.11.5 reference. Each is applied to the reference
 * (or to its output) here, so the comparison stays exact for everything else.
 */
export const DEVIATIONS = {
  armEveryTimeout:
    "Every pending promise has its timeout armed, not only those with resonate:target: an awaiter " +
    "suspended on a ctx.promise() (scope global, no target) or a local child is woken at the deadline " +
    "instead of being stranded (spec §9 item 1; the reference's own comment admits the gap).",
  settleStateValidated:
    "promise.settle (top level and fenced) and task.fulfill reject states other than resolved, " +
    "rejected, rejected_canceled with 400; the reference stores any string, even rejected_timedout.",
  settledExecutesDropped:
    "An execute for a task whose promise settles is deleted from the outbox in the same transaction " +
    "(it could only produce a 409), so a step whose cascade both resumes and fulfils a task emits no execute.",
  suspend422Body:
    "task.suspend's 422 carries a string body; the reference returns {} (which its own isResponse " +
    "rejects). Error bodies are not compared.",
} as const;

// Not deviations (the schema matches the 0.11.5 reference here, unlike resonate-pg, spec §9):
// ctx.promise() promises (scope global, no target) are awaitable: task.suspend never checks
// awaitability and register_listener counts scope global as external; suspend 300 leaves the task
// acquired at the same version; register_callback/suspend on a missing awaiter/awaited give 422;
// task.fulfill checks the action id; a fenced settle of the task's own id fulfils the task;
// duplicate awaited ids are deduplicated; schedule.create requires a target; resonate:delay that
// is not a number is ignored; 6-field and @alias cron expressions are accepted.

type Patchable = Json;

export function referenceServer(): Patchable {
  const s: Patchable = new Server({ timeoutMode: "eager" });

  // DEVIATIONS.armEveryTimeout
  const promiseCreate = s.promiseCreate.bind(s);
  s.promiseCreate = (now: number, req: Json) => {
    const existed = s.promises.has(req.data.id);
    const result = promiseCreate(now, req);
    const p = s.promises.get(req.data.id);
    if (!existed && p?.state === "pending" && !s.pTimeouts.some((t: Json) => t.id === p.id)) {
      result.changes.push(s.setPTimeout({ id: p.id, timeout: p.timeoutAt }));
    }
    return result;
  };

  // DEVIATIONS.settleStateValidated
  const promiseSettle = s.promiseSettle.bind(s);
  s.promiseSettle = (now: number, req: Json) => {
    if (s.promises.has(req.data.id) && !SETTLE_STATES.includes(req.data.state)) {
      return { response: s.response(req.kind, 400, "invalid state"), changes: [] };
    }
    return promiseSettle(now, req);
  };
  const validate = s.validate.bind(s);
  s.validate = (req: Json) => {
    const error = validate(req);
    if (error !== null) return error;
    if (req.kind === "task.fulfill" && !SETTLE_STATES.includes(req.data.action.data.state))
      return "invalid state";
    return null;
  };
  return s;
}

export interface Failure {
  seed: number;
  step: number;
  reason: string;
  request?: Json;
  now?: number;
  reference?: Json;
  schema?: Json;
}

export interface SeedResult {
  seed: number;
  steps: number;
  failure?: Failure;
  /** How often each `kind status` and each message kind occurred: evidence the sequences reach deep states. */
  coverage: Map<string, number>;
}

interface Outcome {
  response: Json;
  messages: string[];
}

/** The system under test, through a session that opted into resonate:debug_time. */
export class SchemaClient {
  readonly client: pg.Client;

  constructor(client: pg.Client) {
    this.client = client;
  }

  static async open(client: pg.Client): Promise<SchemaClient> {
    // The setting counts only for members of resonate_debugger, the test harnesses' role.
    await client.query("grant resonate_debugger to current_user");
    await client.query("set resonate.debug_time = on");
    return new SchemaClient(client);
  }

  async rpc(req: Json, now: number): Promise<Json> {
    const body = { ...req, head: { ...req.head, "resonate:debug_time": now } };
    const { rows } = await this.client.query("select resonate.resonate_rpc($1::jsonb) as res", [
      JSON.stringify(body),
    ]);
    return rows[0].res;
  }

  async tick(now: number): Promise<void> {
    await this.client.query("select resonate.process_timeouts($1::bigint)", [now]);
  }

  /**
   * Everything the step wrote to the outbox: read through the dequeue functions for each address
   * that has rows (most steps have none, so this is usually one query), then anything left over
   * (which would be a message to an address the step should not have used).
   */
  async drain(): Promise<string[]> {
    const out: string[] = [];
    const pending = await this.client.query("select distinct address, kind from resonate.outbox");
    for (const { address, kind } of pending.rows) {
      if (!ADDRESSES.includes(address)) continue;
      if (kind === "execute") {
        const ex = await this.client.query("select task_id, version from resonate.dequeue_execute($1, $2)", [
          address,
          1000,
        ]);
        for (const r of ex.rows)
          out.push(messageKey(address, "execute", { id: r.task_id, version: r.version }));
      } else {
        const un = await this.client.query("select promise from resonate.dequeue_unblock($1, $2)", [
          address,
          1000,
        ]);
        for (const r of un.rows) out.push(messageKey(address, "unblock", r.promise));
      }
    }
    if (pending.rows.length > 0) {
      const rest = await this.client.query(
        "delete from resonate.outbox returning address, kind, task_id, version, promise",
      );
      for (const r of rest.rows) {
        const payload = r.kind === "execute" ? { id: r.task_id, version: r.version } : r.promise;
        out.push(`LEFTOVER ${messageKey(r.address, r.kind, payload)}`);
      }
    }
    return out.sort();
  }
}

function referenceMessages(ref: Patchable, changes: Json[]): string[] {
  // The outbox keeps one execute per task (latest wins); unblocks are keyed by (promise, address).
  const executes = new Map<string, string>();
  const others: string[] = [];
  for (const c of changes) {
    if (c.kind !== "message.send") continue;
    const m = c.message;
    if (m.kind === "execute") {
      const id = m.data.task.id;
      // DEVIATIONS.settledExecutesDropped
      if (ref.promises.get(id)?.state !== "pending") continue;
      executes.set(id, messageKey(c.address, "execute", m.data.task));
    } else {
      others.push(messageKey(c.address, "unblock", m.data.promise));
    }
  }
  return [...executes.values(), ...others].sort();
}

function same(a: Json, b: Json): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/**
 * Runs `steps` generated steps of `seed`, or, with `replay`, exactly those recorded steps (used to
 * shrink a failure). The steps actually run are returned in `trace`.
 */
export async function runSeed(
  sut: SchemaClient,
  seed: number,
  steps: number,
  replay?: Step[],
): Promise<SeedResult & { trace: Step[] }> {
  const result = await runSteps(sut, seed, replay ? replay.length : steps, replay);
  return result;
}

async function runSteps(
  sut: SchemaClient,
  seed: number,
  steps: number,
  replay: Step[] | undefined,
): Promise<SeedResult & { trace: Step[] }> {
  const trace: Step[] = [];
  const gen = new Generator(seed);
  const coverage = new Map<string, number>();
  const count = (key: string) => coverage.set(key, (coverage.get(key) ?? 0) + 1);
  const ref = referenceServer();
  gen.world = { tasks: ref.tasks, promises: ref.promises };
  const reset = await sut.rpc({ kind: "debug.reset", head: { corrId: "reset", version: "v" }, data: {} }, 0);
  if (reset.head.status !== 200) throw new Error(`debug.reset failed: ${JSON.stringify(reset)}`);
  await sut.drain();

  for (let i = 0; i < steps; i++) {
    const step: Step = replay ? structuredClone(replay[i]!) : gen.step();
    trace.push(step);
    const fail = (reason: string, reference?: Json, schema?: Json): SeedResult & { trace: Step[] } => ({
      seed,
      steps: i,
      trace,
      coverage,
      failure: { seed, step: i, reason, request: step.req, now: step.now, reference, schema },
    });

    if (step.tick) {
      const r = ref.apply(step.now, {
        kind: "debug.tick",
        head: { corrId: "tick", version: "v" },
        data: { time: step.now },
      });
      await sut.tick(step.now);
      const refMsgs = referenceMessages(ref, r.changes);
      const sutMsgs = await sut.drain();
      for (const m of sutMsgs) count(`tick message ${m.split(" ")[0]}`);
      if (!same(refMsgs, sutMsgs)) return fail("messages of the tick before the step", refMsgs, sutMsgs);
    }

    let refOut: Outcome;
    try {
      const r = ref.apply(step.now, structuredClone(step.req));
      refOut = { response: r.response, messages: referenceMessages(ref, r.changes) };
    } catch (err) {
      return fail(`reference threw: ${(err as Error).message}`);
    }
    const sutRes = await sut.rpc(step.req, step.now);
    const sutOut: Outcome = { response: sutRes, messages: await sut.drain() };
    count(`${step.req.kind} ${sutRes.head?.status}`);
    for (const m of sutOut.messages) count(`message ${m.split(" ")[0]}`);
    gen.observe(
      refOut.response,
      ref.outgoing.map((o: Json) => o.message),
    );
    ref.outgoing = [];

    if (sutRes.kind !== step.req.kind || sutRes.head?.corrId !== step.req.head.corrId) {
      return fail("envelope does not echo kind/corrId", undefined, sutRes);
    }
    if (JSON.stringify(sutRes).includes("null")) {
      if (containsNull(sutRes)) return fail("response contains a JSON null", undefined, sutRes);
    }
    const a = normResponse({ ...refOut.response, kind: step.req.kind }, step.now);
    const b = normResponse(sutRes, step.now);
    if (!same(a, b)) return fail("response differs", refOut.response, sutRes);
    if (!same(refOut.messages, sutOut.messages))
      return fail("messages differ", refOut.messages, sutOut.messages);
  }

  const refSnap = snapTables(ref.debugSnap().response.data);
  const snapRes = await sut.rpc(
    { kind: "debug.snap", head: { corrId: "snap", version: "v" }, data: {} },
    gen.now,
  );
  const sutSnap = snapTables(snapRes.data);
  for (const key of Object.keys(refSnap)) {
    if (!same(refSnap[key], sutSnap[key])) {
      return {
        seed,
        steps,
        coverage,
        trace,
        failure: {
          seed,
          step: steps,
          reason: `final snapshot differs in ${key}`,
          reference: refSnap[key],
          schema: sutSnap[key],
        },
      };
    }
  }
  return { seed, steps, coverage, trace };
}

function containsNull(x: Json): boolean {
  if (x === null) return true;
  if (Array.isArray(x)) return x.some(containsNull);
  if (typeof x === "object") return Object.values(x).some(containsNull);
  return false;
}

export function formatFailure(f: Failure): string {
  return [
    `seed ${f.seed}, step ${f.step} (now=${f.now}): ${f.reason}`,
    `  request:   ${JSON.stringify(f.request)}`,
    `  reference: ${JSON.stringify(f.reference)}`,
    `  schema:    ${JSON.stringify(f.schema)}`,
    `  reproduce: node_modules/.bin/node scripts/resonate-campaign.ts --seed ${f.seed} --steps ${f.request ? f.step + 1 : f.step}`,
  ].join("\n");
}

/**
 * Delta-debugging (ddmin) over the recorded steps of a failing run: the smallest subsequence that
 * still fails, so a divergence can be read in a handful of requests.
 */
export async function shrink(sut: SchemaClient, seed: number, trace: Step[]): Promise<Step[]> {
  const fails = async (steps: Step[]) => (await runSeed(sut, seed, 0, steps)).failure !== undefined;
  let current = trace;
  let n = 2;
  while (current.length >= 2) {
    const chunk = Math.ceil(current.length / n);
    let reduced = false;
    for (let start = 0; start < current.length; start += chunk) {
      const candidate = [...current.slice(0, start), ...current.slice(start + chunk)];
      if (candidate.length > 0 && (await fails(candidate))) {
        current = candidate;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= current.length) break;
      n = Math.min(n * 2, current.length);
    }
  }
  return current;
}
