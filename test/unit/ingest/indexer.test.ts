import { describe, expect, it } from "vitest";
import { lengthSortedBatches } from "../../../functions/ingest/indexer.ts";

describe("lengthSortedBatches", () => {
  it("batches texts of similar length together and covers every index once", () => {
    const texts = ["aaaa", "a", "aaa", "aa", "aaaaa", "a"];
    expect(lengthSortedBatches(texts, 2)).toEqual([
      [1, 5],
      [3, 2],
      [0, 4],
    ]);
    expect(lengthSortedBatches([], 4)).toEqual([]);
  });
});
