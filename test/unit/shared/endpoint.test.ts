// The request skeleton every Edge Function shares: method, secret, error mapping, lazy dependencies.
import { describe, expect, it } from "vitest";
import { endpoint, errorResponse, lazy } from "../../../functions/shared/endpoint.ts";
import { HttpError } from "../../../functions/shared/http.ts";
import { createLogger } from "../../../functions/shared/log.ts";

interface Deps {
  secret: string;
  answer: () => Promise<Response>;
}

const ok = async () => Response.json({ ok: true });
const call = (handler: (req: Request) => Promise<Response>, init: RequestInit = {}) =>
  handler(
    new Request("http://x/fn", { method: "POST", headers: { authorization: "Bearer s3cret" }, ...init }),
  );

function guarded(answer: () => Promise<Response>, deps?: () => Promise<Deps>) {
  return endpoint<Deps>(
    {
      method: "POST",
      usage: "use POST with a body",
      secret: (d) => d.secret,
      failure: { status: 503, error: "could not do it" },
      handle: (_req, d) => d.answer(),
    },
    deps ?? (async () => ({ secret: "s3cret", answer })),
  );
}

describe("endpoint", () => {
  it("answers another method 405 with how to call it, and serves every method when none is set", async () => {
    const res = await call(guarded(ok), { method: "GET" });
    expect(res.status).toBe(405);
    expect(await res.json()).toEqual({ error: "use POST with a body" });
    const open = endpoint({ failure: { status: 500, error: "x" }, handle: ok }, async () => ({}));
    expect((await call(open, { method: "GET" })).status).toBe(200);
    expect((await call(open, { method: "DELETE" })).status).toBe(200);
  });

  it("refuses a missing or wrong bearer secret with 401 before handling, and an unset secret always", async () => {
    let handled = 0;
    const h = guarded(async () => {
      handled++;
      return Response.json({ ok: true });
    });
    expect((await call(h, { headers: {} })).status).toBe(401);
    const wrong = await call(h, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: "missing or wrong bearer secret" });
    expect(handled).toBe(0);
    expect((await call(h)).status).toBe(200);
    expect(handled).toBe(1);
    const unset = endpoint(
      { secret: () => undefined, refusal: "send the key", failure: { status: 500, error: "x" }, handle: ok },
      async () => ({}),
    );
    const refused = await call(unset, { headers: { authorization: "Bearer " } });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: "send the key" });
  });

  it("maps an HttpError to its status and anything else, a failed build included, to the failure", async () => {
    const http = await call(
      guarded(async () => {
        throw new HttpError(413, "too big");
      }),
    );
    expect(http.status).toBe(413);
    expect(await http.json()).toEqual({ error: "too big" });
    const other = await call(
      guarded(async () => {
        throw new Error("database gone");
      }),
    );
    expect(other.status).toBe(503);
    expect(await other.json()).toEqual({ error: "could not do it", detail: "database gone" });
    const unbuilt = await call(
      guarded(ok, async () => {
        throw new Error("WEBHOOK_SECRET is not set");
      }),
    );
    expect(unbuilt.status).toBe(503);
    expect(await unbuilt.json()).toEqual({ error: "could not do it", detail: "WEBHOOK_SECRET is not set" });
  });

  it("reads the request before building dependencies, so a bad one costs no connection", async () => {
    let builds = 0;
    const h = endpoint<Record<string, never>, { q: string }>(
      {
        input: async (req) => {
          const body = (await req.json()) as { q?: unknown };
          if (typeof body.q !== "string") throw new HttpError(400, "field 'q' must be a string");
          return { q: body.q };
        },
        failure: { status: 500, error: "x" },
        handle: async (_req, _d, input) => Response.json({ echo: input.q }),
      },
      async () => {
        builds++;
        return {};
      },
    );
    const bad = await call(h, { body: "{}" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: "field 'q' must be a string" });
    expect(builds).toBe(0);
    expect(await (await call(h, { body: '{"q":"hi"}' })).json()).toEqual({ echo: "hi" });
    expect(builds).toBe(1);
  });

  it("with headers, answers OPTIONS 204 and puts them on every answer, failures included", async () => {
    const cors = { "access-control-allow-origin": "*" };
    const h = endpoint(
      {
        method: "POST",
        headers: cors,
        failure: { status: 500, error: "x" },
        handle: async () => {
          throw new HttpError(418, "teapot");
        },
      },
      async () => ({}),
    );
    const preflight = await call(h, { method: "OPTIONS" });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    const wrong = await call(h, { method: "GET" });
    expect([wrong.status, wrong.headers.get("access-control-allow-origin")]).toEqual([405, "*"]);
    const failed = await call(h);
    expect([failed.status, failed.headers.get("access-control-allow-origin")]).toEqual([418, "*"]);
    const served = await call(
      endpoint({ headers: cors, failure: { status: 500, error: "x" }, handle: ok }, async () => ({})),
    );
    expect(served.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("logs an unexpected error, and keeps its text out of the answer when the failure says so", async () => {
    const logged: string[] = [];
    const h = endpoint(
      {
        failure: { status: 500, error: "search failed", withoutDetail: true },
        handle: async () => {
          throw new Error('value "1e20" is out of range for type bigint');
        },
      },
      async () => ({}),
      createLogger({}, (l) => logged.push(l)),
    );
    const res = await call(h);
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: "search failed" });
    expect(logged.join("\n")).toMatch(/out of range for type bigint/);
  });

  it("errorResponse gives a thrown non-Error its text as the detail", async () => {
    const res = errorResponse("plain text", { status: 500, error: "failed" });
    expect(await res.json()).toEqual({ error: "failed", detail: "plain text" });
  });
});

describe("lazy", () => {
  it("builds once on first use, and again after a build that failed", async () => {
    let builds = 0;
    const get = lazy(() => {
      builds++;
      if (builds === 1) throw new Error("not yet");
      return { n: builds };
    });
    expect(builds).toBe(0);
    await expect(get()).rejects.toThrow("not yet");
    expect(await get()).toEqual({ n: 2 });
    expect(await get()).toEqual({ n: 2 });
    expect(builds).toBe(2);
  });
});
