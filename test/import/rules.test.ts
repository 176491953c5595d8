import { describe, expect, it } from "vitest";
import { batchCount, batchFailureMessage, batchOf, verdict } from "../../functions/import/batches.ts";
import { inferFormat, MAX_BATCH_SIZE, parseJobSpec } from "../../functions/import/job-spec.ts";
import { validateContact } from "../../functions/import/targets/contacts.ts";
import { getTarget, targetNames } from "../../functions/import/targets/registry.ts";
import { isPrivateAddress } from "../../functions/shared/net-guard.ts";

const ID = "3f0c1c7e-2a44-4c1e-9a51-0d5d7b0f9a11";
const job = (over: Record<string, unknown> = {}) => ({
  id: ID,
  source_url: "https://example.com/c.csv",
  format: null,
  target: "contacts",
  batch_size: 1000,
  ...over,
});

describe("parseJobSpec", () => {
  it("accepts a good row and infers the format from the extension", () => {
    expect(parseJobSpec(job())).toEqual({
      ok: true,
      value: {
        id: ID,
        sourceUrl: "https://example.com/c.csv",
        format: "csv",
        target: "contacts",
        batchSize: 1000,
      },
    });
    expect(parseJobSpec(job({ source_url: "file://x.ndjson", batch_size: "10" }))).toMatchObject({
      ok: true,
      value: { format: "jsonl", batchSize: 10 },
    });
    expect(inferFormat("https://h/x.JSONL?sig=1")).toBe("jsonl");
    expect(inferFormat("file://exports/contacts.csv.gz")).toBe("csv");
    expect(inferFormat("https://h/x.ndjson.GZ?sig=1")).toBe("jsonl");
    expect(inferFormat("https://h/x.gz")).toBeUndefined();
  });

  it.each([
    [{ target: "people" }, /target "people" is unknown; known targets: contacts/],
    [{ batch_size: 0 }, /batch_size 0 is out of range; use an integer from 1 to 50000/],
    [{ batch_size: -5 }, /batch_size -5 is out of range/],
    [{ batch_size: MAX_BATCH_SIZE + 1 }, /out of range/],
    [{ batch_size: 1e12 }, /out of range/],
    [{ batch_size: 2.5 }, /out of range/],
    [{ source_url: "ftp://h/x.csv" }, /must start with http:\/\/, https:\/\/ or file:\/\//],
    [{ source_url: "" }, /source_url is required/],
    [{ source_url: "https://h/data" }, /cannot be inferred.*set format to 'csv' or 'jsonl'/],
    [{ format: "xlsx" }, /format "xlsx" is not supported/],
    [{ id: "7" }, /id must be a uuid/],
  ])("rejects %o", (over, message) => {
    const r = parseJobSpec(job(over));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });
});

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

describe("batches", () => {
  it("splits records into batches", () => {
    expect(batchCount(0, 100)).toBe(0);
    expect(batchCount(1000, 100)).toBe(10);
    expect(batchCount(1001, 100)).toBe(11);
    expect([batchOf(0, 100), batchOf(99, 100), batchOf(100, 100)]).toEqual([0, 0, 1]);
  });

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

describe("isPrivateAddress", () => {
  it.each([
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "::1",
    "::",
    "fe80::1",
    "fd00::1",
    "::ffff:127.0.0.1",
    // The same mapped and compatible addresses as Node's URL parser writes them (hex groups).
    "::ffff:7f00:1",
    "::ffff:a9fe:a9fe",
    "0:0:0:0:0:ffff:a00:1",
    "::7f00:1",
    "64:ff9b::a00:1",
    "2001:db8::1",
    "not-an-ip",
  ])("refuses %s", (ip) => expect(isPrivateAddress(ip)).toBe(true));
  it.each(["8.8.8.8", "172.32.0.1", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8", "::ffff:808:808"])(
    "allows %s",
    (ip) => expect(isPrivateAddress(ip)).toBe(false),
  );
});
