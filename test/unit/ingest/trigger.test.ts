import { describe, expect, it } from "vitest";
import { parseTriggerRequest, triggerHandler } from "../../../functions/ingest/trigger.ts";

describe("request validation", () => {
  it("ingest: empty body or {force}; unknown fields and wrong types are 400 with the fix", async () => {
    expect(parseTriggerRequest(undefined)).toEqual({ ok: true, value: { force: false, trigger: "manual" } });
    expect(parseTriggerRequest({ force: "yes" })).toEqual({
      ok: false,
      error: "field 'force' must be true or false",
    });
    expect(parseTriggerRequest({ forse: true })).toEqual({
      ok: false,
      error: 'unknown field(s) "forse"; allowed: force, trigger',
    });
    const started: string[] = [];
    const handler = triggerHandler(async () => ({
      secret: "s3cret",
      now: () => new Date("2026-11-21T03:00:00Z"),
      start: async (_runId, workflowId) => {
        started.push(workflowId);
        return { created: started.length === 1 };
      },
    }));
    const post = (body?: string, auth = "Bearer s3cret") =>
      handler(new Request("http://x/ingest", { method: "POST", headers: { authorization: auth }, body }));
    expect((await post(undefined, "Bearer nope")).status).toBe(401);
    const first = await post();
    expect(first.status).toBe(202);
    expect(await first.json()).toEqual({
      workflow_id: "ingest/2026-11-21",
      run_id: "2026-11-21",
      created: true,
    });
    expect(await (await post("{}")).json()).toMatchObject({
      workflow_id: "ingest/2026-11-21",
      created: false,
    });
    expect((await post('{"force": 1}')).status).toBe(400);
    expect(started).toEqual(["ingest/2026-11-21", "ingest/2026-11-21"]);
  });

  it("a day whose run finished and whose row was deleted is a 409 that says to force a new run", async () => {
    const handler = triggerHandler(async () => ({
      secret: "s3cret",
      now: () => new Date("2026-11-21T03:00:00Z"),
      start: async () => ({ finished: { workflowId: "ingest/2026-11-21", state: "resolved" } }),
    }));
    const res = await handler(
      new Request("http://x/ingest", { method: "POST", headers: { authorization: "Bearer s3cret" } }),
    );
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({
      error:
        'run 2026-11-21 already ran (workflow ingest/2026-11-21 is resolved) and its row was deleted since; post {"force": true} to start a new run today',
      workflow_id: "ingest/2026-11-21",
    });
  });
});
