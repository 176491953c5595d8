// The stack's processes come back by themselves when they die, so a crash in one Edge Function (or a
// database restart it did not survive) does not leave the stack down until someone notices.
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FUNCTIONS_URL } from "../../scripts/stack/env.ts";
import { NODE_BIN, ROOT } from "../../scripts/stack/layout.ts";
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

  it("stops one process and its supervisor for good with `stack stop <process>`", () => {
    const stack = (...args: string[]) =>
      spawnSync(NODE_BIN, [join(ROOT, "scripts/stack.ts"), ...args], { cwd: ROOT, encoding: "utf8" });
    const supervisor = runningPid("net-dispatcher");
    expect(supervisor).toBeDefined();
    try {
      const stopped = stack("stop", "net-dispatcher");
      expect(stopped.stdout).toContain("stack: stopped net-dispatcher");
      expect(runningPid("net-dispatcher")).toBeUndefined();
      expect(stack("stop", "net-dispatcher").stdout).toContain("stack: net-dispatcher was not running");
      const usage = stack("stop");
      expect(usage.status).toBe(2);
      expect(usage.stderr).toContain(
        "usage: npm run stack -- stop <worker | functions | net-dispatcher | pooler>",
      );
    } finally {
      expect(stack("up").status).toBe(0);
    }
    expect(runningPid("net-dispatcher")).toBeDefined();
  });
});
