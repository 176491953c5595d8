import { describe, expect, it } from "vitest";
import type { WorkflowRun } from "../../../functions/operations/runs.ts";
import { parseFilter } from "../../../functions/operations/runs.ts";
import { formatDuration, plainLine, progressBar, table } from "../../../functions/operations/runs-table.ts";

const run = (over: Partial<WorkflowRun> = {}): WorkflowRun => ({
  workflow_id: "import/1",
  kind: "import",
  row_id: "1",
  status: "importing",
  durable_state: "pending",
  done: 3,
  total: 10,
  unit: "batches",
  created_at: "",
  started_at: null,
  finished_at: null,
  duration_ms: 65_000,
  attempts: 1,
  retries: 0,
  last_error: null,
  ...over,
});

describe("status rendering", () => {
  it("draws progress bars proportional to done/total, empty when unknown", () => {
    expect(progressBar(3, 10, 10)).toBe("[###-------]");
    expect(progressBar(10, 10, 4)).toBe("[####]");
    expect(progressBar(null, null, 3)).toBe("[   ]");
    expect(progressBar(5, 0, 3)).toBe("[   ]");
  });

  it("formats durations for people", () => {
    expect(formatDuration(250)).toBe("250ms");
    expect(formatDuration(1500)).toBe("1.5s");
    expect(formatDuration(65_000)).toBe("1m5s");
    expect(formatDuration(3_900_000)).toBe("1h5m");
  });

  it("prints one greppable line per run when not on a terminal", () => {
    expect(plainLine(run({ retries: 1, last_error: "bad row" }))).toBe(
      'import/1 importing 3/10 batches 1m5s attempts=1 retries=1 error="bad row"',
    );
  });

  it("prints a table with a header and one row per run", () => {
    const out = table([run(), run({ workflow_id: "images/2", done: null, total: null })]).split("\n");
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(/^WORKFLOW\s+STATUS\s+PROGRESS/);
    expect(out[1]).toContain("[######--------------]");
    expect(table([])).toBe("no runs match");
    // A narrow terminal: the error moves to its own line instead of being cut off.
    const narrow = table([run({ last_error: "batch 3 attempt 2: connection reset" })], 80).split("\n");
    expect(narrow).toHaveLength(3);
    expect(narrow[1]!.length).toBeLessThanOrEqual(80);
    expect(narrow[2]).toBe("    batch 3 attempt 2: connection reset");
    // Cut to the width between characters: half an emoji would print as a replacement box.
    const emoji = table([run({ last_error: `${"e".repeat(74)}${"😀".repeat(10)}` })], 80).split("\n");
    expect(emoji[2]).toBe(`    ${"e".repeat(74)}…`);
  });

  it("validates filters with messages that say what is allowed", () => {
    expect(parseFilter({ kind: "import", status: "failed", limit: "5" })).toEqual({
      ok: true,
      value: { kind: "import", status: "failed", limit: 5 },
    });
    expect(parseFilter({ kind: "x" })).toEqual({
      ok: false,
      error: "kind must be one of import, images, ingest",
    });
    expect(parseFilter({ limit: "0" })).toMatchObject({ ok: false });
    expect(parseFilter({ status: "done" })).toMatchObject({ ok: false });
  });
});
