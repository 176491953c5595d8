import { describe, expect, it } from "vitest";
import { inferFormat, MAX_BATCH_SIZE, parseJobSpec } from "../../../functions/import/job-spec.ts";

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
    expect(parseJobSpec(job({ source_url: " https://example.com/c.csv\n" }))).toMatchObject({
      ok: true,
      value: { sourceUrl: "https://example.com/c.csv", format: "csv" },
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
    [{ source_url: "file://100%.csv" }, /"file:\/\/100%\.csv" has a % that starts no escape.*write % as %25/],
    [{ source_url: "https://h/data" }, /cannot be inferred.*set format to 'csv' or 'jsonl'/],
    [{ format: "xlsx" }, /format "xlsx" is not supported/],
    [{ id: "7" }, /id must be a uuid/],
  ])("rejects %o", (over, message) => {
    const r = parseJobSpec(job(over));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });
});
