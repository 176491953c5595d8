// The pg_net stand-in behaves like pg_net: requests leave only after commit, never after rollback,
// and every outcome (status, body, timeout, refused connection, 5xx) lands in net._http_response.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FUNCTIONS_URL } from "../../scripts/stack/env.ts";
import { DB_URL } from "../support/db.ts";
import { eventually, type LoopbackServer, startLoopbackServer } from "../support/http-server.ts";

interface ResponseRow {
  status_code: number | null;
  content: string | null;
  timed_out: boolean | null;
  error_msg: string | null;
  headers: Record<string, string> | null;
}

let client: pg.Client;
let server: LoopbackServer;

async function responseFor(id: string): Promise<ResponseRow | undefined> {
  const { rows } = await client.query<ResponseRow>(
    "select status_code, content, timed_out, error_msg, headers from net._http_response where id = $1",
    [id],
  );
  return rows[0];
}

beforeAll(async () => {
  client = new pg.Client({ connectionString: DB_URL });
  await client.connect();
  server = await startLoopbackServer(async (req, res) => {
    if (req.url.startsWith("/slow")) await new Promise((r) => setTimeout(r, 1500));
    if (req.url.startsWith("/fail")) {
      res.statusCode = 503;
      res.end("service unavailable");
      return;
    }
    res.setHeader("content-type", "application/json");
    res.end(
      JSON.stringify({
        got: req.body ? JSON.parse(req.body) : null,
        auth: req.headers.authorization ?? null,
      }),
    );
  });
});

afterAll(async () => {
  await client.end();
  await server.close();
});

describe("net.http_post stand-in", () => {
  it("sends only after commit, with the body and headers, and records the response", async () => {
    const other = new pg.Client({ connectionString: DB_URL });
    await other.connect();
    try {
      await other.query("begin");
      const { rows } = await other.query<{ id: string }>(
        `select net.http_post($1, '{"hello": "world"}'::jsonb, headers := '{"Content-Type": "application/json", "Authorization": "Bearer t0k"}'::jsonb) as id`,
        [`${server.url}/commit`],
      );
      const id = rows[0]!.id;
      await new Promise((r) => setTimeout(r, 1500));
      expect(server.requests.filter((r) => r.url === "/commit")).toHaveLength(0);
      await other.query("commit");
      const res = await eventually("response row", () => responseFor(id));
      expect(res.status_code).toBe(200);
      expect(res.timed_out).toBe(false);
      expect(JSON.parse(res.content!)).toEqual({ got: { hello: "world" }, auth: "Bearer t0k" });
      expect(server.requests.filter((r) => r.url === "/commit")).toHaveLength(1);
    } finally {
      await other.end();
    }
  });

  it("never sends a request whose transaction rolled back", async () => {
    await client.query("begin");
    const { rows } = await client.query<{ id: string }>("select net.http_post($1) as id", [
      `${server.url}/rollback`,
    ]);
    await client.query("rollback");
    const marker = await client.query<{ id: string }>("select net.http_get($1) as id", [
      `${server.url}/after-rollback`,
    ]);
    await eventually("the later request's response", () => responseFor(marker.rows[0]!.id));
    expect(server.requests.filter((r) => r.url === "/rollback")).toHaveLength(0);
    expect(await responseFor(rows[0]!.id)).toBeUndefined();
  });

  it("an AFTER INSERT trigger's net.http_post reaches a Deno Edge Function only after commit, never after rollback", async () => {
    await client.query(`
      create table if not exists public.net_probe (id bigint generated always as identity primary key, note text);
      create table if not exists public.net_probe_requests (probe_id bigint, request_id bigint);
      create or replace function public.net_probe_post() returns trigger language plpgsql as $$
      begin
        insert into public.net_probe_requests
        values (new.id, net.http_post('${FUNCTIONS_URL}/health', jsonb_build_object('probe', new.id)));
        return null;
      end $$;
      drop trigger if exists net_probe_post on public.net_probe;
      create trigger net_probe_post after insert on public.net_probe for each row execute function public.net_probe_post();`);
    const writer = new pg.Client({ connectionString: DB_URL });
    await writer.connect();
    const insertAndGetRequest = async () => {
      const probe = await writer.query<{ id: string }>(
        "insert into public.net_probe (note) values ('x') returning id",
      );
      const req = await writer.query<{ request_id: string }>(
        "select request_id from public.net_probe_requests where probe_id = $1",
        [probe.rows[0]!.id],
      );
      return req.rows[0]!.request_id;
    };
    try {
      await writer.query("begin");
      const committed = await insertAndGetRequest();
      await new Promise((r) => setTimeout(r, 1500));
      expect(await responseFor(committed), "no request may leave before commit").toBeUndefined();
      await writer.query("commit");
      const res = await eventually("the Edge Function's response", () => responseFor(committed));
      expect(res.status_code).toBe(200);
      expect(JSON.parse(res.content!)).toMatchObject({ ok: true, database: "reachable" });

      await writer.query("begin");
      const rolledBack = await insertAndGetRequest();
      await writer.query("rollback");
      await writer.query("begin");
      const later = await insertAndGetRequest();
      await writer.query("commit");
      await eventually("the later request's response", () => responseFor(later));
      // Request ids come from a sequence, which a rollback does not rewind: nothing else has this id.
      expect(await responseFor(rolledBack)).toBeUndefined();
    } finally {
      await writer.end();
      await client.query(
        "drop table if exists public.net_probe, public.net_probe_requests; drop function if exists public.net_probe_post()",
      );
    }
  });

  it("records a timeout as pg_net does", async () => {
    const { rows } = await client.query<{ id: string }>(
      "select net.http_get($1, timeout_milliseconds := 300) as id",
      [`${server.url}/slow`],
    );
    const res = await eventually("timeout row", () => responseFor(rows[0]!.id));
    expect(res.timed_out).toBe(true);
    expect(res.status_code).toBeNull();
    expect(res.error_msg).toMatch(/Timeout of 300 ms/);
  });

  it("records a refused connection", async () => {
    const closed = await startLoopbackServer(() => {});
    const closedUrl = closed.url;
    await closed.close();
    const { rows } = await client.query<{ id: string }>("select net.http_post($1) as id", [
      `${closedUrl}/nothing`,
    ]);
    const res = await eventually("refused row", () => responseFor(rows[0]!.id));
    expect(res.status_code).toBeNull();
    expect(res.timed_out).toBe(false);
    expect(res.error_msg).toBe("Couldn't connect to server");
  });

  it("records a 5xx with its body", async () => {
    const { rows } = await client.query<{ id: string }>("select net.http_post($1) as id", [
      `${server.url}/fail`,
    ]);
    const res = await eventually("5xx row", () => responseFor(rows[0]!.id));
    expect(res.status_code).toBe(503);
    expect(res.content).toBe("service unavailable");
  });
});
