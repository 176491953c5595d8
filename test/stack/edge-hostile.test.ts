// The deployed Edge Functions (supabase/functions, served by Deno) against a hostile caller and a
// misconfigured deployment, on servers of this test's own: bad input is a 4xx saying what to fix, never a
// 500 quoting Postgres, and no answer repeats a secret from the function's environment.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/stack/layout.ts";
import { dropDatabase, freshDatabase } from "../support/db.ts";
import { type FunctionsServer, startFunctionsServer } from "../support/functions-server.ts";

const DB = "edge_hostile";
const PASSWORD = "hunter2-edge-secret";

let server: FunctionsServer;
let misconfigured: FunctionsServer;

beforeAll(async () => {
  const url = await freshDatabase(DB);
  server = await startFunctionsServer(`${ROOT}/supabase/functions`, {
    DATABASE_URL: url,
    SUPABASE_DB_URL: url,
    DB_POOLER_URL: "",
  });
  // A pooler URL pasted with a typo in its port: `new URL` refuses it, password and all.
  misconfigured = await startFunctionsServer(`${ROOT}/supabase/functions`, {
    DB_POOLER_URL: `postgresql://postgres.ref:${PASSWORD}@127.0.0.1:65536/postgres`,
  });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await misconfigured?.stop();
  await dropDatabase(DB);
});

const serviceRole = () => ({ authorization: `Bearer ${process.env.SUPABASE_SERVICE_ROLE_KEY}` });

describe("runs with a hostile workflow id", () => {
  it("answers 400 saying what is wrong for a malformed percent-escape or a NUL, not 500", async () => {
    for (const [path, error] of [
      ["/runs/%E0%A4%A", /not valid percent-encoding/],
      ["/runs/import%2F%00", /NUL/],
    ] as const) {
      const res = await fetch(`${server.functionsUrl}${path}`, { headers: serviceRole() });
      expect(res.status).toBe(400);
      expect((await res.json()).error).toMatch(error);
    }
  });
});

describe("a webhook naming a row id with a NUL", () => {
  it("is a 400, not a 500 with the database's encoding error", async () => {
    const res = await fetch(`${server.functionsUrl}/images-webhook`, {
      method: "POST",
      headers: { authorization: `Bearer ${process.env.WEBHOOK_SECRET}`, "content-type": "application/json" },
      body: JSON.stringify({
        type: "INSERT",
        table: "image_requests",
        schema: "public",
        record: { id: "x\u0000y" },
        old_record: null,
      }),
    });
    const body = await res.text();
    expect(res.status, body).toBe(400);
    expect(JSON.parse(body).error).toMatch(/record\.id contains a NUL/);
  });
});

describe("a deployment whose database URL is malformed", () => {
  it("says which variable to fix, to anyone, without the password in it", async () => {
    for (const [name, init] of [
      ["gallery", {}],
      ["health", {}],
      ["import-webhook", { method: "POST", body: "{}" }],
    ] as const) {
      const res = await fetch(`${misconfigured.functionsUrl}/${name}`, init);
      const text = await res.text();
      expect(res.status, name).toBeGreaterThanOrEqual(500);
      expect(text, name).toMatch(/DB_POOLER_URL must be a URL/);
      expect(text, name).not.toContain(PASSWORD);
    }
  });
});
