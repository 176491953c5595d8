import { describe, expect, it } from "vitest";
import { batchFailureMessage, verdict } from "../../../functions/import/batch-math.ts";

describe("batches", () => {
  it("says which batches stay imported when one runs out of retries", () => {
    expect(batchFailureMessage(3, 6, "attempt 6: boom", 3000)).toMatch(
      /^batch 3 failed after 6 attempts \(attempt 6: boom\)\. Batches 0-2 stay imported \(3000 rows\)\. Fix the cause/,
    );
    expect(batchFailureMessage(0, 6, "boom", 0)).toMatch(
      /^batch 0 failed after 6 attempts \(boom\)\. Fix the cause/,
    );
  });

  it("decides the final status from the counts", () => {
    expect(verdict({ total: 10, imported: 10, skipped: 0, failed: 0 })).toEqual({
      status: "succeeded",
      error: null,
    });
    expect(verdict({ total: 10, imported: 7, skipped: 1, failed: 2 })).toMatchObject({
      status: "partially_succeeded",
      error: expect.stringMatching(/7 row\(s\) imported, 2 invalid and 1 duplicate/),
    });
    expect(verdict({ total: 3, imported: 0, skipped: 0, failed: 3 })).toMatchObject({ status: "failed" });
  });
});
