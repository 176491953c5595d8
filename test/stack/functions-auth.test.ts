// The local functions server applies `verify_jwt` from supabase/config.toml as the platform does, so a
// call that would get 401 once deployed gets it here too.
import { describe, expect, it } from "vitest";
import { FUNCTIONS_URL } from "../../scripts/stack/env.ts";

const search = (headers: Record<string, string>, method = "POST") =>
  fetch(`${FUNCTIONS_URL}/search`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: method === "POST" ? JSON.stringify({ query: "" }) : undefined,
  });

describe("verify_jwt on the local functions server", () => {
  it("refuses a protected function without a key or with a wrong one, and lets the anon key through", async () => {
    const none = await search({});
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ code: 401, message: "Missing authorization header" });
    const wrong = await search({ authorization: "Bearer not-a-key" });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ code: 401, message: "Invalid JWT" });
    // Past the gate, the function itself answers: 400 for the empty query.
    expect((await search({ authorization: `Bearer ${process.env.SUPABASE_ANON_KEY}` })).status).toBe(400);
    expect((await search({ authorization: `Bearer ${process.env.SUPABASE_SERVICE_ROLE_KEY}` })).status).toBe(
      400,
    );
  });

  it("passes CORS preflights and functions configured with verify_jwt = false", async () => {
    expect((await search({}, "OPTIONS")).status).toBeLessThan(300);
    expect((await fetch(`${FUNCTIONS_URL}/health`)).status).toBe(200);
  });
});
