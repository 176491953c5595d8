// The deployed Edge Functions (supabase/functions, served by Deno) against a hostile caller and a
// misconfigured deployment, on servers of this test's own: bad input is a 4xx saying what to fix, never a
// 500 quoting Postgres, and no answer repeats a secret from the function's environment.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/stack/layout.ts";
import { dropDatabase, freshDatabase, pool } from "../support/db.ts";
import { type FunctionsServer, startFunctionsServer } from "../support/functions-server.ts";

const DB = "edge_hostile";
const PASSWORD = "hunter2-edge-secret";

let server: FunctionsServer;
let misconfigured: FunctionsServer;
let dbUrl: string;

beforeAll(async () => {
  const url = await freshDatabase(DB);
  dbUrl = url;
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

/** Rows as the table holds them, read fresh, to show a refused delivery changed none of them. */
async function rows(sql: string): Promise<Record<string, unknown>[]> {
  const db = pool(dbUrl, 1);
  try {
    return (await db.query(sql)).rows;
  } finally {
    await db.end();
  }
}

const webhook = (fn: string, table: string, record: Record<string, unknown>) =>
  fetch(`${server.functionsUrl}/${fn}`, {
    method: "POST",
    headers: { authorization: `Bearer ${process.env.WEBHOOK_SECRET}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "INSERT", table, schema: "public", record, old_record: null }),
  });

describe("a webhook whose record holds a NUL in a key or a value other than the id", () => {
  it("is a 400 naming where the NUL is, and leaves the row as it was (no row can hold a NUL)", async () => {
    const [image] = await rows(
      "insert into image_requests (prompt, styles) values ('a lighthouse', '{cartoon}') returning *",
    );
    const [job] = await rows(
      "insert into import_jobs (source_url, format) values ('https://example.com/a.csv', 'csv') returning *",
    );
    const cases: [fn: string, table: string, record: Record<string, unknown>, error: RegExp][] = [
      [
        "images-webhook",
        "image_requests",
        { ...image, options: { "latency_ms\u0000": 1 } },
        /^record\.options has a key with a NUL \(\\u0000\) character: "latency_ms\\u0000"/,
      ],
      [
        "images-webhook",
        "image_requests",
        { ...image, options: { fail: { "cartoon\u0000": "always" } } },
        /^record\.options\.fail has a key with a NUL/,
      ],
      [
        "images-webhook",
        "image_requests",
        { ...image, options: { latency_ms: { cartoon: 5 }, note: ["x", "y\u0000"] } },
        /^record\.options\.note\[1\] contains a NUL/,
      ],
      [
        "images-webhook",
        "image_requests",
        { ...image, prompt: "a\u0000b" },
        /^record\.prompt contains a NUL/,
      ],
      ["import-webhook", "import_jobs", { ...job, "target\u0000": "x" }, /^record has a key with a NUL/],
      [
        "import-webhook",
        "import_jobs",
        { ...job, source_url: "https://example.com/\u0000.csv" },
        /^record\.source_url contains a NUL/,
      ],
    ];
    for (const [fn, table, record, error] of cases) {
      const res = await webhook(fn, table, record);
      const body = await res.text();
      expect(res.status, `${fn} ${body}`).toBe(400);
      expect(JSON.parse(body).error, fn).toMatch(error);
      expect(JSON.parse(body).error, fn).toMatch(/no row can hold one; nothing was recorded or started/);
    }
    expect(await rows(`select * from image_requests where id = '${image!.id}'`)).toEqual([image]);
    expect(await rows(`select * from import_jobs where id = '${job!.id}'`)).toEqual([job]);
  });
});

describe("the other functions' keys and values with a NUL", () => {
  it("are each a 400 saying what to fix, never a 500", async () => {
    const post = (fn: string, body: unknown, auth: string) =>
      fetch(`${server.functionsUrl}/${fn}`, {
        method: "POST",
        headers: { authorization: `Bearer ${auth}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const anon = process.env.SUPABASE_ANON_KEY ?? "";
    const secret = process.env.WEBHOOK_SECRET ?? "";
    const cases: [what: string, answer: Promise<Response>, error: RegExp][] = [
      ["search key", post("search", { query: "q", "k\u0000": 1 }, anon), /unknown field\(s\) "k\\u0000"/],
      ["search query", post("search", { query: "q\u0000" }, anon), /'query' must not contain NUL/],
      ["ingest key", post("ingest", { "force\u0000": true }, secret), /unknown field\(s\) "force\\u0000"/],
      ["ingest trigger", post("ingest", { trigger: "cron\u0000" }, secret), /'trigger' must be a short/],
      [
        "runs kind",
        fetch(`${server.functionsUrl}/runs?kind=%00`, { headers: serviceRole() }),
        /kind must be one of/,
      ],
      [
        "runs status",
        fetch(`${server.functionsUrl}/runs?status=x%00`, { headers: serviceRole() }),
        /status must be one of/,
      ],
      ["gallery format", fetch(`${server.functionsUrl}/gallery?format=json%00`), /format must be one of/],
      ["gallery limit", fetch(`${server.functionsUrl}/gallery?limit=5%00`), /limit must be an integer/],
    ];
    for (const [what, answer, error] of cases) {
      const res = await answer;
      const body = await res.text();
      expect(res.status, `${what}: ${body}`).toBe(400);
      expect(JSON.parse(body).error, what).toMatch(error);
    }
  });
});

describe("the functions that answer browsers (gallery, search)", () => {
  it("carry their CORS headers on every answer: success, 4xx, 5xx and the OPTIONS preflight", async () => {
    const anon = { authorization: `Bearer ${process.env.SUPABASE_ANON_KEY}` };
    const json = { ...anon, "content-type": "application/json" };
    const cases: [what: string, url: string, init: RequestInit, status: number][] = [
      ["gallery json", `${server.functionsUrl}/gallery?format=json`, {}, 200],
      ["gallery bad format", `${server.functionsUrl}/gallery?format=xml`, {}, 400],
      ["gallery bad limit", `${server.functionsUrl}/gallery?limit=0`, {}, 400],
      ["gallery POST", `${server.functionsUrl}/gallery`, { method: "POST", body: "{}" }, 405],
      ["gallery unreachable", `${misconfigured.functionsUrl}/gallery?format=json`, {}, 503],
      [
        "search",
        `${server.functionsUrl}/search`,
        { method: "POST", headers: json, body: '{"query":"q"}' },
        200,
      ],
      [
        "search bad body",
        `${server.functionsUrl}/search`,
        { method: "POST", headers: json, body: "{}" },
        400,
      ],
      ["search GET", `${server.functionsUrl}/search`, { headers: anon }, 405],
    ];
    for (const [what, url, init, status] of cases) {
      const res = await fetch(url, init);
      const body = await res.text();
      expect(res.status, `${what}: ${body}`).toBe(status);
      expect(res.headers.get("access-control-allow-origin"), what).toBe("*");
    }
    for (const fn of ["gallery", "search"]) {
      // What a browser sends before a call from supabase-js, which adds these headers.
      const res = await fetch(`${server.functionsUrl}/${fn}`, {
        method: "OPTIONS",
        headers: {
          origin: "https://app.example",
          "access-control-request-method": fn === "gallery" ? "GET" : "POST",
          "access-control-request-headers": "authorization, x-client-info, apikey, content-type",
        },
      });
      expect(res.status, fn).toBe(204);
      expect(res.headers.get("access-control-allow-origin"), fn).toBe("*");
      expect(res.headers.get("access-control-allow-methods"), fn).toContain(
        fn === "gallery" ? "GET" : "POST",
      );
      expect(res.headers.get("access-control-allow-headers"), fn).toMatch(
        /authorization.*x-client-info.*apikey/,
      );
    }
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
