// The `runs` Edge Function (served by Deno) and the `npm run status` CLI against the shared stack.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUNCTIONS_URL } from "../../scripts/stack/env.ts";
import { NODE_BIN, ROOT } from "../../scripts/stack/layout.ts";
import { DB_URL } from "../support/db.ts";

const runId = `runs-endpoint-${Date.now()}`;
let client: pg.Client;
const auth = () => ({ authorization: `Bearer ${process.env.SUPABASE_SERVICE_ROLE_KEY}` });

beforeAll(async () => {
  client = new pg.Client({ connectionString: DB_URL });
  await client.connect();
  await client.query(
    "insert into ingest_runs (id, status, error) values ($1, 'failed', 'source 3 unreachable')",
    [runId],
  );
});

afterAll(async () => {
  await client.query("delete from ingest_runs where id = $1", [runId]);
  await client.end();
});

describe("GET /functions/v1/runs", () => {
  it("answers a run's status and progress by workflow id", async () => {
    const res = await fetch(`${FUNCTIONS_URL}/runs/ingest/${runId}`, { headers: auth() });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      workflow_id: `ingest/${runId}`,
      kind: "ingest",
      status: "failed",
      last_error: "source 3 unreachable",
    });
  });

  it("answers 404 for an unknown id, 401 without the service key (the public anon key included), 400 for a bad filter", async () => {
    expect((await fetch(`${FUNCTIONS_URL}/runs/ingest/no-such-run`, { headers: auth() })).status).toBe(404);
    expect((await fetch(`${FUNCTIONS_URL}/runs/ingest/${runId}`)).status).toBe(401);
    const anon = await fetch(`${FUNCTIONS_URL}/runs/ingest/${runId}`, {
      headers: { authorization: `Bearer ${process.env.SUPABASE_ANON_KEY}` },
    });
    expect(anon.status).toBe(401);
    expect((await anon.json()).error).toMatch(/send the service role key.*anon key is refused/);
    expect(
      (await fetch(`${FUNCTIONS_URL}/runs/ingest/${runId}`, { headers: { authorization: "Bearer wrong" } }))
        .status,
    ).toBe(401);
    const bad = await fetch(`${FUNCTIONS_URL}/runs?kind=nope`, { headers: auth() });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatch(/kind must be one of/);
  });

  it("lists recent runs filtered by kind and status", async () => {
    const res = await fetch(`${FUNCTIONS_URL}/runs?kind=ingest&status=failed&limit=50`, { headers: auth() });
    const body = (await res.json()) as { runs: { workflow_id: string; kind: string }[] };
    expect(body.runs.some((r) => r.workflow_id === `ingest/${runId}`)).toBe(true);
    expect(body.runs.every((r) => r.kind === "ingest")).toBe(true);
  });
});

describe("npm run status", () => {
  const status = (...args: string[]) =>
    spawnSync(NODE_BIN, [join(ROOT, "scripts/status.ts"), ...args], { encoding: "utf8", env: process.env });

  it("prints one plain line per run when not on a terminal, filtered", () => {
    const res = status("--kind", "ingest", "--status", "failed", "--limit", "100");
    expect(res.status).toBe(0);
    const line = res.stdout.split("\n").find((l) => l.startsWith(`ingest/${runId} `));
    expect(line).toMatch(/ failed - .* attempts=0 error="source 3 unreachable"$/);
    expect(res.stdout).not.toMatch(/^(import|images)\//m);
  });

  it("refuses a bad filter with the allowed values", () => {
    const res = status("--kind", "nope");
    expect(res.status).toBe(2);
    expect(res.stderr).toContain("kind must be one of import, images, ingest");
  });
});
