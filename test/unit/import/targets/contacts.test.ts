import { describe, expect, it } from "vitest";
import { validateContact } from "../../../../functions/import/targets/contacts.ts";
import { getTarget, targetNames } from "../../../../functions/import/targets/registry.ts";

describe("contacts validation", () => {
  it("normalizes a valid contact", () => {
    expect(validateContact({ email: " Ann@X.io ", name: "Ann", company: "", phone: 4915112345 })).toEqual({
      ok: true,
      row: { email: "ann@x.io", name: "Ann", company: null, country: null, phone: "4915112345" },
    });
  });

  it("lists every problem with its field", () => {
    const r = validateContact({ email: "not-an-email", name: "  ", phone: "call me", company: { a: 1 } });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors.map((e) => e.field).sort()).toEqual(["company", "email", "name", "phone"]);
      expect(r.errors.find((e) => e.field === "email")?.message).toMatch(/is not a valid address/);
    }
    const missing = validateContact({ name: "x" });
    expect(missing).toEqual({ ok: false, errors: [{ field: "email", message: "email is required" }] });
    expect(validateContact([1])).toMatchObject({ ok: false, errors: [{ field: null }] });
  });

  it("is reachable through the registry", () => {
    expect(targetNames()).toEqual(["contacts"]);
    expect(getTarget("contacts")?.requiredFields).toEqual(["email", "name"]);
    expect(getTarget("toString")).toBeUndefined();
  });
});
