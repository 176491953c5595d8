// The generic trigger-path handler: auth, body validation, routing and the 202 answer, with the
// starting and recording sides recorded instead of touching Resonate (those are covered end to end
// in each workload's trigger test).
import { describe, expect, it } from "vitest";
import {
  parseWebhook,
  type WebhookDeps,
  type WebhookRoute,
  webhookHandler,
} from "../../../functions/shared/webhook.ts";

interface Job {
  id: string;
  size: number;
}

const route: WebhookRoute<Job> = {
  table: "public.jobs",
  kind: "job",
  workflow: "runJob",
  rowId: (r) => (typeof r.id === "string" || typeof r.id === "number" ? String(r.id) : undefined),
  validate: (r) =>
    typeof r.size === "number" && r.size > 0
      ? { ok: true, value: { id: String(r.id), size: r.size } }
      : { ok: false, error: "size must be a positive number" },
  args: (j) => [j.id],
};

/** Row ids the fake table holds; a delivery for any other id names no row. */
const MISSING_ROW = "404";

function harness() {
  const started: [string, string, unknown[]][] = [];
  const rejected: [string, string, string][] = [];
  const deps: WebhookDeps = {
    secret: "s3cret",
    start: async (id, wf, args) => {
      started.push([id, wf, args]);
    },
    rowExists: async (_table, id) => id !== MISSING_ROW,
    reject: async (t, id, msg) => {
      rejected.push([t, id, msg]);
    },
  };
  return { started, rejected, handle: webhookHandler(route, async () => deps) };
}

function post(body: unknown, auth = "Bearer s3cret"): Request {
  return new Request("http://x/functions/v1/job-webhook", {
    method: "POST",
    headers: { authorization: auth, "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

const insert = (record: unknown) => ({
  type: "INSERT",
  table: "jobs",
  schema: "public",
  record,
  old_record: null,
});

describe("webhookHandler", () => {
  it("starts the workflow keyed by the row id and answers 202 at once", async () => {
    const h = harness();
    const res = await h.handle(post(insert({ id: 7, size: 3 })));
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ workflow_id: "job/7" });
    expect(h.started).toEqual([["job/7", "runJob", ["7"]]]);
  });

  it("starts nothing for a row that is not in the table and says so with 404", async () => {
    const h = harness();
    const res = await h.handle(post(insert({ id: Number(MISSING_ROW), size: 3 })));
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: "no public.jobs row has id 404; nothing was started",
      id: "404",
    });
    expect(h.started).toEqual([]);
    expect(h.rejected).toEqual([]);
  });

  it("refuses a missing or wrong secret with 401 and starts nothing", async () => {
    const h = harness();
    expect((await h.handle(post(insert({ id: 1, size: 1 }), "Bearer nope"))).status).toBe(401);
    expect((await h.handle(post(insert({ id: 1, size: 1 }), ""))).status).toBe(401);
    expect(h.started).toEqual([]);
  });

  it("answers 400 with what is wrong for malformed bodies", async () => {
    const h = harness();
    const cases: [unknown, RegExp][] = [
      ["{not json", /not valid JSON/],
      [[1, 2], /must be a JSON object/],
      [
        { type: "UPSERT", table: "jobs", schema: "public", record: {} },
        /'type' must be INSERT, UPDATE or DELETE/,
      ],
      [{ type: "INSERT", schema: "public", record: {} }, /'table' must be a table name/],
      [{ type: "INSERT", table: "jobs", schema: "public", record: "x" }, /'record' must be an object/],
      [insert({ size: 1 }), /record has no 'id'/],
    ];
    for (const [body, msg] of cases) {
      const res = await h.handle(post(body));
      expect(res.status).toBe(400);
      expect((await res.json()).error).toMatch(msg);
    }
    expect(h.started).toEqual([]);
  });

  it("refuses an INSERT whose record is null, or holds a NUL in any key or value, with 400 and looks nothing up", async () => {
    const h = harness();
    const looked: string[] = [];
    const handle = webhookHandler(route, async () => ({
      secret: "s3cret",
      start: async () => {},
      rowExists: async (_t, id) => {
        looked.push(id);
        return true;
      },
      reject: async () => {},
    }));
    const cases: [unknown, string][] = [
      [insert(null), "field 'record' must be the inserted row; an INSERT's record cannot be null"],
      [
        insert({ id: "a\u0000b", size: 1 }),
        "record.id contains a NUL (\\u0000) character; no row can hold one; nothing was recorded or started",
      ],
      [
        insert({ id: "7", size: 1, options: { latency_ms: { "cartoon\u0000": 5 } } }),
        'record.options.latency_ms has a key with a NUL (\\u0000) character: "cartoon\\u0000"; no row can hold one; nothing was recorded or started',
      ],
      [
        insert({ id: "7", size: 1, "my key": [{ tags: ["a", "b\u0000"] }] }),
        'record["my key"][0].tags[1] contains a NUL (\\u0000) character; no row can hold one; nothing was recorded or started',
      ],
    ];
    for (const [body, error] of cases) {
      const res = await handle(post(body));
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error });
    }
    expect(looked).toEqual([]);
    expect(h.started).toEqual([]);
  });

  it("records an invalid row's reason on the row and answers 400", async () => {
    const h = harness();
    const res = await h.handle(post(insert({ id: 9, size: -1 })));
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "size must be a positive number", id: "9" });
    expect(h.rejected).toEqual([["public.jobs", "9", "size must be a positive number"]]);
    expect(h.started).toEqual([]);
  });

  it("ignores events it does not handle with 200", async () => {
    const h = harness();
    for (const body of [
      { ...insert({ id: 1, size: 1 }), type: "UPDATE" },
      { ...insert({ id: 1, size: 1 }), table: "other" },
    ]) {
      const res = await h.handle(post(body));
      expect(res.status).toBe(200);
      expect((await res.json()).status).toBe("ignored");
    }
    expect(h.started).toEqual([]);
  });

  it("caps the body size with 413", async () => {
    const h = harness();
    const res = await h.handle(post(insert({ id: 1, size: 1, pad: "x".repeat(2 * 1024 * 1024) })));
    expect(res.status).toBe(413);
  });

  it("reports a failure to start as 500 so pg_net records it", async () => {
    const handle = webhookHandler(route, async () => ({
      secret: "s3cret",
      start: async () => {
        throw new Error("store unreachable");
      },
      rowExists: async () => true,
      reject: async () => {},
    }));
    const res = await handle(post(insert({ id: 1, size: 1 })));
    expect(res.status).toBe(500);
    expect((await res.json()).detail).toBe("store unreachable");
  });
});

describe("parseWebhook", () => {
  it("accepts the Supabase Database Webhook body", () => {
    expect(parseWebhook(insert({ id: 1 }))).toEqual({
      ok: true,
      value: { type: "INSERT", table: "jobs", schema: "public", record: { id: 1 }, old_record: null },
    });
  });
});
