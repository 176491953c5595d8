import { describe, expect, it } from "vitest";
import { runIdFor } from "../../../functions/ingest/run-id.ts";

describe("run ids", () => {
  it("uses the UTC date, with a time suffix when forced", () => {
    expect(runIdFor(new Date("2026-11-21T23:59:59.123Z"), false)).toBe("2026-11-21");
    expect(runIdFor(new Date("2026-11-21T03:04:05.678Z"), true)).toBe("2026-11-21-force-030405678");
  });
});
