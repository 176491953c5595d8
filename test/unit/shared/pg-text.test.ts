// Where a NUL sits in a parsed JSON body, said so a person can find it: Postgres text and jsonb cannot
// hold one, so the webhook refuses such a body before it reaches the database.
import { describe, expect, it } from "vitest";
import { nulPlace } from "../../../functions/shared/pg-text.ts";

describe("nulPlace", () => {
  it("finds a NUL however deep a hostile body nests, without overflowing the stack", () => {
    let deep: unknown = ["x\u0000"];
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(nulPlace(deep, "v")).toMatch(/^v(\[0\]){200000}\[0\] contains a NUL/);
    expect(nulPlace({ a: [1, { b: "fine" }], c: null }, "v")).toBeUndefined();
  });

  it("quotes a long key in part, never half a surrogate pair", () => {
    const key = `${"k".repeat(79)}😀\u0000`;
    expect(nulPlace({ [key]: 1 }, "v")).toBe(
      `v has a key with a NUL (\\u0000) character: "${"k".repeat(79)}…"`,
    );
  });
});
