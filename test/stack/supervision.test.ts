// The stack's processes come back by themselves when they die, so a crash in one Edge Function (or a
// database restart it did not survive) does not leave the stack down until someone notices.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { FUNCTIONS_URL } from "../../scripts/stack/env.ts";
import { runningPid } from "../../scripts/stack/processes.ts";
import { eventually } from "../support/http-server.ts";

function childOf(supervisorPid: number): number {
  const out = execFileSync("pgrep", ["-P", String(supervisorPid)])
    .toString()
    .trim()
    .split("\n")[0];
  return Number(out);
}

describe("stack supervision", () => {
  it("restarts the functions server after it is killed", async () => {
    const supervisor = runningPid("functions");
    expect(supervisor).toBeDefined();
    const before = childOf(supervisor!);
    process.kill(before, "SIGKILL");
    const after = await eventually("a new functions server process", async () => {
      try {
        const pid = childOf(supervisor!);
        return pid !== before ? pid : undefined;
      } catch {
        return undefined;
      }
    });
    expect(after).not.toBe(before);
    await eventually(
      "health to answer again",
      async () => {
        const res = await fetch(`${FUNCTIONS_URL}/health`).catch(() => undefined);
        return res?.ok ? true : undefined;
      },
      30_000,
    );
    expect(runningPid("functions")).toBe(supervisor);
  });
});
