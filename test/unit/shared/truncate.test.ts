// Cutting text for messages, logs and pages: never between the two halves of a surrogate pair, which
// would leave a lone surrogate that Postgres stores as U+FFFD and strict JSON parsers refuse.
import { describe, expect, it } from "vitest";
import { tail, truncate } from "../../../functions/shared/truncate.ts";

/** A lone surrogate: with the u flag, a whole pair is one code point outside this range. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

describe("truncate", () => {
  it("keeps text that fits, cuts text that does not and marks the cut", () => {
    expect(truncate("short", 5, "…")).toBe("short");
    expect(truncate("longer", 4, "…")).toBe("long…");
    expect(truncate("longer", 4)).toBe("long");
    expect(truncate("abc", 0)).toBe("");
  });

  it("backs off one unit rather than keep half of a pair, at every cut point", () => {
    const text = "a😀b😀😀c";
    for (let max = 0; max <= text.length; max++) {
      const cut = truncate(text, max);
      expect(cut.length, `max ${max}`).toBeLessThanOrEqual(max);
      expect(cut.length, `max ${max}`).toBeGreaterThanOrEqual(max - 1);
      expect(cut, `max ${max}`).not.toMatch(LONE_SURROGATE);
      expect(text.startsWith(cut)).toBe(true);
    }
  });

  it("leaves an already-lone surrogate where it stands: it is the input's, not the cut's", () => {
    expect(truncate("ab\uD83Dcd", 3)).toBe("ab\uD83D");
  });
});

describe("tail", () => {
  it("keeps the last units, never starting on the second half of a pair", () => {
    const text = "a😀b😀😀c";
    for (let max = 0; max <= text.length; max++) {
      const end = tail(text, max);
      expect(end.length, `max ${max}`).toBeLessThanOrEqual(max);
      expect(end.length, `max ${max}`).toBeGreaterThanOrEqual(max - 1);
      expect(end, `max ${max}`).not.toMatch(LONE_SURROGATE);
      expect(text.endsWith(end)).toBe(true);
    }
    expect(tail("abc", 5)).toBe("abc");
  });
});
