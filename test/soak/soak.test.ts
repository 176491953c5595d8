// The chaos soak, short: two minutes of all three workloads under load with every fault (worker
// SIGKILLs, a Postgres crash, a functions server crash, a pooler crash, a burst of duplicate webhooks),
// then every invariant (scripts/soak/invariants.ts). A regression in any workload's durability fails
// here. It takes 3 to 8 minutes: a webhook lost to a fault is re-posted by the backstop only after its
// row has been queued for 3 minutes, and the soak waits for that.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NODE_BIN, ROOT } from "../../scripts/stack/layout.ts";

function soak(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE_BIN, [join(ROOT, "scripts/soak.ts"), ...args], { cwd: ROOT, env: process.env });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    child.on("exit", (code) => resolve({ code, out }));
  });
}

describe("chaos soak", () => {
  it("loses nothing and does nothing twice through two minutes of faults", {
    timeout: 12 * 60_000,
  }, async () => {
    const { code, out } = await soak(["--minutes", "2", "--rate", "15"]);
    console.log(out);
    expect(code, out).toBe(0);
    expect(out).toContain("every invariant holds");
  });
});
