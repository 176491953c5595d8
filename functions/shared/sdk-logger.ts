// Adapts the Resonate SDK's structured logger to the worker's JSON lines, turning the SDK's trace
// events into one line per step: started, finished (with duration and state), skipped on replay,
// retried (with attempt and error). Everything else the SDK says at warn/error passes through.
import type { Logger as SdkLogger } from "@resonatehq/sdk";
import type { Logger } from "./log.ts";

/** The root workflow id of a promise id: everything before the first ':' (the SDK's child id scheme). */
export function workflowOf(id: string): string {
  const i = id.indexOf(":");
  return i < 0 ? id : id.slice(0, i);
}

function errorText(value: unknown): string {
  const text =
    value instanceof Error ? value.message : typeof value === "string" ? value : JSON.stringify(value);
  return (text ?? "").slice(0, 500);
}

export function sdkLogger(log: Logger): SdkLogger {
  const started = new Map<string, number>();
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
          log.info("step replayed", { ...base, state: fields.state });
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
      log.error(msg, { sdk: fields });
    },
  };
}
