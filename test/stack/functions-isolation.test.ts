// The local functions server runs each Edge Function as the edge runtime does: in an isolate of its own,
// resolved only through its import map. Fixture functions (test/fixtures/edge-isolation) misbehave on
// purpose on a second server instance, and another function must not notice.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/stack/layout.ts";
import { type FunctionsServer, startFunctionsServer } from "../support/functions-server.ts";

const FIXTURES = join(ROOT, "test/fixtures/edge-isolation/supabase/functions");

let server: FunctionsServer;
let stateDir: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), "edge-isolation-"));
  server = await startFunctionsServer(FIXTURES, { FIXTURE_STATE_DIR: stateDir });
  await server.waitForLog((r) => r.event === "loaded");
}, 120_000);

afterAll(async () => {
  await server?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

const call = (name: string, query = "") =>
  fetch(`${server.functionsUrl}/${name}${query}`, {
    headers: { authorization: `Bearer ${process.env.SUPABASE_ANON_KEY}` },
  });

async function json(name: string, query = ""): Promise<Record<string, unknown>> {
  const res = await call(name, query);
  expect(res.status, `${name}${query}`).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

describe("functions server: one isolate per function", () => {
  it("starts every function in a process of its own and reports which failed to load", async () => {
    const loaded = server.log().find((r) => r.event === "loaded")!;
    expect(loaded.functions).toEqual(["polluter", "probe"]);
    expect(loaded.failed).toEqual(["not-in-map", "throws-at-load"]);
    const probe = await json("probe");
    const polluter = await json("polluter");
    expect(probe.pid).not.toBe(polluter.pid);
    expect(probe.pg).toBe("function");
  });

  it("keeps the JWT check of the config.toml beside the functions folder", async () => {
    expect((await fetch(`${server.functionsUrl}/probe`)).status).toBe(401);
    expect((await fetch(`${server.functionsUrl}/polluter`)).status).toBe(200);
  });

  it("answers 500 with the error for a function that throws at load, and retries it in a fresh isolate", async () => {
    const res = await call("throws-at-load");
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: string; detail: string };
    expect(body.error).toMatch(/function throws-at-load failed to load/);
    expect(body.detail).toContain("fixture: throws at load");
    expect((await call("probe")).status).toBe(200);

    writeFileSync(join(stateDir, "fixed"), "");
    expect(await json("throws-at-load")).toMatchObject({ loaded: true });
  });

  it("resolves packages through the import map only: one that only node_modules has does not load", async () => {
    const res = await call("not-in-map");
    expect(res.status).toBe(500);
    expect(((await res.json()) as { detail: string }).detail).toMatch(/re2js/);
  });

  it("keeps globals, built-ins, the environment, module state and leaked timers inside their isolate", async () => {
    await json("polluter");
    await new Promise((r) => setTimeout(r, 50));
    const polluter = (await json("polluter")).state as { hits: number; ticks: number };
    expect(polluter.ticks).toBeGreaterThan(0);

    const probe = await json("probe");
    expect(probe.polluted).toBeNull();
    expect(probe.stringify).toBe('{"a":1}');
    expect(probe.webhookSecret).toBe(process.env.WEBHOOK_SECRET);
    // The same _shared/state.ts module, a separate instance: the polluter's hits and its interval's ticks
    // are not the probe's.
    expect((probe.state as { ticks: number }).ticks).toBe(0);
  });

  it("answers from one function while another hogs its thread", async () => {
    const blocked = call("polluter", "?block=1500").then(() => "polluter");
    await new Promise((r) => setTimeout(r, 100));
    const probe = call("probe").then(() => "probe");
    expect(await Promise.race([blocked, probe])).toBe("probe");
    await blocked;
  });

  it("restarts a function that crashes at run time on its next request, leaving the others running", async () => {
    const probeBefore = (await json("probe")).pid;
    const crashed = (await json("polluter")).pid;
    await call("polluter", "?crash").catch(() => undefined);
    await server.waitForLog((r) => r.event === "isolate exited" && r.pid === crashed);

    const fresh = await json("polluter");
    expect(fresh.pid).not.toBe(crashed);
    expect((fresh.state as { hits: number }).hits).toBe(1);
    expect((await json("probe")).pid).toBe(probeBefore);
    const exit = server.log().find((r) => r.event === "isolate exited" && r.pid === crashed)!;
    expect(exit.reason).toBe("exit code 1");
    expect(
      server
        .log()
        .some((r) => r.function === "polluter" && String(r.message).includes("fixture: polluter crashes")),
    ).toBe(true);
  });
});
