import { describe, expect, it } from "vitest";
import { secretsEqual } from "../../../functions/shared/secrets.ts";

describe("secretsEqual", () => {
  it("compares exactly and never accepts an empty expected secret", async () => {
    expect(await secretsEqual("abc", "abc")).toBe(true);
    expect(await secretsEqual("abd", "abc")).toBe(false);
    expect(await secretsEqual("ab", "abc")).toBe(false);
    expect(await secretsEqual("", "")).toBe(false);
  });
});
