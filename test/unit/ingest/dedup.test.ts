import { describe, expect, it } from "vitest";
import { dedupByHash } from "../../../functions/ingest/dedup.ts";

describe("dedupByHash", () => {
  it("keeps the copy from the highest priority, then lowest source id, then path", () => {
    const row = (stagingId: string, sourceId: number, priority: number, contentHash = "h") => ({
      stagingId,
      sourceId,
      sourcePath: stagingId,
      contentHash,
      priority,
    });
    const { kept, dropped } = dedupByHash([
      row("b", 2, 1),
      row("a", 3, 5),
      row("c", 1, 5),
      row("z", 9, 0, "other"),
    ]);
    expect(kept.map((k) => k.stagingId).sort()).toEqual(["c", "z"]);
    expect(dropped.map((d) => [d.row.stagingId, d.keptStagingId])).toEqual([
      ["a", "c"],
      ["b", "c"],
    ]);
  });
});
