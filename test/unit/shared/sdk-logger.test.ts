// The SDK's log events as the worker's JSON lines: one line per step, one line for a resumed
// workflow's replayed steps, and a fenced step said as what it is.
import { describe, expect, it } from "vitest";
import { createLogger, type LogFields } from "../../../functions/shared/log.ts";
import { sdkLogger } from "../../../functions/shared/sdk-logger.ts";

function recorder() {
  const lines: [string, string, LogFields][] = [];
  const log = createLogger({}, (line) => {
    const { level, event, ts: _ts, ...fields } = JSON.parse(line);
    lines.push([level, event, fields]);
  });
  return { log, lines };
}

describe("sdkLogger", () => {
  it("turns a resumed workflow's replayed steps into one line with their count", async () => {
    const { log, lines } = recorder();
    const sdk = sdkLogger(log);
    for (let i = 0; i < 50; i++)
      sdk.debug({ component: "trace", kind: "dedup", id: `import/j:${i}`, state: "resolved" }, "trace");
    sdk.debug({ component: "trace", kind: "dedup", id: "images/r:0", state: "resolved" }, "trace");
    expect(lines).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    expect(lines).toEqual([
      ["info", "steps replayed", { workflow_id: "import/j", steps: 50 }],
      ["info", "steps replayed", { workflow_id: "images/r", steps: 1 }],
    ]);
  });

  it("logs a step's start and finish, and a fenced step as such instead of an error", () => {
    const { log, lines } = recorder();
    const sdk = sdkLogger(log);
    sdk.debug({ component: "trace", kind: "spawn", id: "import/j:3" }, "trace");
    sdk.debug({ component: "trace", kind: "return", id: "import/j:3", state: "resolved" }, "trace");
    sdk.error({ component: "core" }, "Server. Fence check failed. n/a. (See https://rn8.io/e/1199)");
    sdk.error({ component: "core" }, "something else");
    expect(lines.map(([level, event]) => [level, event])).toEqual([
      ["info", "step started"],
      ["info", "step finished"],
      ["info", "workflow fenced off: it was canceled, or another worker holds it now; stopped running it"],
      ["error", "something else"],
    ]);
  });

  it("cuts a failed step's error to 500 units between characters, never inside an emoji", () => {
    const { log, lines } = recorder();
    const sdk = sdkLogger(log);
    const value = new Error(`${"e".repeat(499)}${"😀".repeat(10)}`);
    sdk.debug({ component: "trace", kind: "return", id: "import/j:3", state: "rejected", value }, "trace");
    expect(lines).toEqual([
      [
        "warn",
        "step finished",
        { workflow_id: "import/j", step_id: "import/j:3", state: "rejected", error: "e".repeat(499) },
      ],
    ]);
  });
});
