// Adapts the Resonate SDK's structured logger to the worker's JSON lines, turning the SDK's trace
// events into one line per step: started, finished (with duration and state), retried (with attempt
// and error); the steps a resumed workflow skips on replay become one line with their count. A fenced
// step (the workflow was canceled or taken over) is said as such. Everything else the SDK says at
// warn/error passes through.
import type { Logger as SdkLogger } from "@resonatehq/sdk";
import type { Logger } from "./log.ts";
import { truncate } from "./truncate.ts";

/** The root workflow id of a promise id: everything before the first ':' (the SDK's child id scheme). */
export function workflowOf(id: string): string {
  const i = id.indexOf(":");
  return i < 0 ? id : id.slice(0, i);
}

function errorText(value: unknown): string {
  const text =
    value instanceof Error ? value.message : typeof value === "string" ? value : JSON.stringify(value);
  return truncate(text ?? "", 500);
}

/** Replayed steps arrive one event each, back to back; their line waits this long for the last. */
const REPLAY_QUIET_MS = 200;

export function sdkLogger(log: Logger): SdkLogger {
  const started = new Map<string, number>();
  const replayed = new Map<string, { steps: number; timer: ReturnType<typeof setTimeout> }>();
  const replay = (workflowId: string) => {
    const r = replayed.get(workflowId);
    if (r) clearTimeout(r.timer);
    const steps = (r?.steps ?? 0) + 1;
    const timer = setTimeout(() => {
      replayed.delete(workflowId);
      log.info("steps replayed", { workflow_id: workflowId, steps });
    }, REPLAY_QUIET_MS);
    (timer as { unref?: () => void }).unref?.();
    replayed.set(workflowId, { steps, timer });
  };
  return {
    debug(fields) {
      if (fields.component !== "trace" || typeof fields.id !== "string") return;
      const id = fields.id;
      const base = { workflow_id: workflowOf(id), step_id: id };
      switch (fields.kind) {
        case "spawn":
          started.set(id, performance.now());
          log.info("step started", base);
          break;
        case "return": {
          const t0 = started.get(id);
          started.delete(id);
          const failed = fields.state === "rejected";
          (failed ? log.warn : log.info)("step finished", {
            ...base,
            state: fields.state,
            duration_ms: t0 === undefined ? undefined : Math.round(performance.now() - t0),
            error: failed ? errorText(fields.value) : undefined,
          });
          break;
        }
        case "dedup":
          replay(base.workflow_id);
          break;
      }
    },
    info(fields, msg) {
      log.info(msg, { sdk: fields });
    },
    warn(fields, msg) {
      if (fields.component === "runtime" && typeof fields.attempt === "number") {
        log.warn("step retry", {
          step: fields.func,
          attempt: fields.attempt,
          retry_in_ms: fields.retryIn,
          error: msg,
        });
        return;
      }
      log.warn(msg, { sdk: fields });
    },
    error(fields, msg) {
      if (msg.includes("Fence check failed")) {
        log.info("workflow fenced off: it was canceled, or another worker holds it now; stopped running it", {
          sdk: fields,
        });
        return;
      }
      log.error(msg, { sdk: fields });
    },
  };
}
