// The workload's SQL against a real database of its own: every write can be repeated, as a step
// re-executed after a crash repeats it, without changing what the first execution wrote.
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  beginAttempt,
  endCall,
  markStyleFailed,
  outcomeOf,
  RequestUnusableError,
  recordSuccess,
  startRequest,
  styleStillRunning,
} from "../../functions/images/db.ts";
import { dropDatabase, freshDatabase, pool as makePool } from "../support/db.ts";
import { imageRows, insertRequest, requestRow } from "../support/images/harness.ts";

const DB = "images_db_test";
// The run (workflow id) the steps belong to; a retry of it is another run.
const RUN = "images/r";
const RETRY = "images/r/retry-1";
let pool: pg.Pool;

beforeAll(async () => {
  pool = makePool(await freshDatabase(DB));
  // Teardown drops the database with force, which can reach an idle connection before pool.end() has closed it.
  pool.on("error", () => {});
});
afterAll(async () => {
  await pool?.end();
  await dropDatabase(DB);
});

const image = (style: string) => ({
  path: `r/${style}.png`,
  url: `http://x/r/${style}.png`,
  width: 4,
  height: 4,
  bytes: 100,
  sha256: "ab".repeat(32),
  provider: "simulated",
});

describe("image SQL", () => {
  it("starts a request once, however often the start step runs", async () => {
    const id = await insertRequest(pool, { prompt: "p", styles: ["cartoon", "neon"] });
    expect(await startRequest(pool, id, RUN)).toEqual(["cartoon", "neon"]);
    const first = await requestRow(pool, id);
    expect(await startRequest(pool, id, RUN)).toEqual(["cartoon", "neon"]);
    expect(await requestRow(pool, id)).toEqual(first);
    expect(first).toMatchObject({ status: "running", images_total: 2 });
    expect(Object.values(await imageRows(pool, id)).map((r) => [r.style, r.status, r.attempts])).toEqual([
      ["cartoon", "pending", 0],
      ["neon", "pending", 0],
    ]);
  });

  it("counts each provider call and never calls again for a succeeded style", async () => {
    const id = await insertRequest(pool, {
      prompt: "a fox",
      styles: ["cartoon"],
      options: { fail: { cartoon: 1 } },
    });
    await startRequest(pool, id, RUN);
    expect(await beginAttempt(pool, id, "cartoon", RUN)).toEqual({
      kind: "call",
      attempt: 1,
      request: {
        id,
        prompt: "a fox",
        styles: ["cartoon"],
        simulation: { latencyMs: {}, fail: { cartoon: 1 } },
      },
    });
    expect(await beginAttempt(pool, id, "cartoon", RUN)).toMatchObject({ kind: "call", attempt: 2 });
    await recordSuccess(pool, id, "cartoon", RUN, image("cartoon"));
    const done = await beginAttempt(pool, id, "cartoon", RUN);
    expect(done).toEqual({
      kind: "done",
      image: {
        style: "cartoon",
        path: "r/cartoon.png",
        url: "http://x/r/cartoon.png",
        bytes: 100,
        sha256: "ab".repeat(32),
      },
    });
    await markStyleFailed(pool, id, "cartoon", RUN, "late failure");
    expect((await imageRows(pool, id)).cartoon).toMatchObject({
      status: "succeeded",
      attempts: 2,
      error: null,
    });
  });

  it("settles the request with its last style's final write, once", async () => {
    const id = await insertRequest(pool, { prompt: "p", styles: ["cartoon", "neon"] });
    await startRequest(pool, id, RUN);
    await beginAttempt(pool, id, "cartoon", RUN);
    await recordSuccess(pool, id, "cartoon", RUN, image("cartoon"));
    expect(await requestRow(pool, id)).toMatchObject({ status: "running", finished_at: null });
    await beginAttempt(pool, id, "neon", RUN);
    await markStyleFailed(pool, id, "neon", RUN, "refused");
    const settled = await requestRow(pool, id);
    expect(settled).toMatchObject({ status: "partially_succeeded", images_succeeded: 1, images_failed: 1 });
    expect(settled.error).toBe("1 of 2 styles failed: neon: refused (after 1 provider call)");
    // A step repeated after a crash writes the same and leaves the settled request alone.
    await markStyleFailed(pool, id, "neon", RUN, "refused");
    expect(await requestRow(pool, id)).toEqual(settled);
  });

  it("settles exactly once when many styles finish at the same moment", async () => {
    const styles = Array.from({ length: 12 }, (_, i) => `bench-${i}`);
    for (let round = 0; round < 5; round++) {
      const id = await insertRequest(pool, { prompt: `race ${round}`, styles });
      await startRequest(pool, id, RUN);
      await Promise.all(styles.map((s) => beginAttempt(pool, id, s, RUN)));
      await Promise.all(styles.map((s) => recordSuccess(pool, id, s, RUN, image(s))));
      expect(await requestRow(pool, id)).toMatchObject({
        status: "succeeded",
        images_succeeded: 12,
        images_failed: 0,
      });
    }
  });

  it("gives each style to one run at a time: a retry waits for the canceled run's call, whose late writes do not count", async () => {
    const id = await insertRequest(pool, { prompt: "owned", styles: ["cartoon"] });
    await startRequest(pool, id, RUN);
    expect(await beginAttempt(pool, id, "cartoon", RUN)).toMatchObject({ kind: "call", attempt: 1 });
    // Canceled while the provider call is out, then retried at once.
    await pool.query("select app.workflow_canceled_images($1)", [id]);
    await startRequest(pool, id, RETRY);
    expect(await beginAttempt(pool, id, "cartoon", RETRY)).toEqual({ kind: "busy", caller: RUN });
    // The canceled run's call returns: its image does not count, and it may not call again.
    expect(await styleStillRunning(pool, id, "cartoon", RUN)).toBe(false);
    await recordSuccess(pool, id, "cartoon", RUN, image("cartoon"));
    expect((await imageRows(pool, id)).cartoon).toMatchObject({ status: "pending", path: null });
    await endCall(pool, id, "cartoon", RUN);
    await expect(beginAttempt(pool, id, "cartoon", RUN)).rejects.toThrow(
      `style cartoon of image request ${id} now belongs to ${RETRY}; ${RUN} does not generate it`,
    );
    expect(await beginAttempt(pool, id, "cartoon", RETRY)).toMatchObject({ kind: "call", attempt: 2 });
    await recordSuccess(pool, id, "cartoon", RETRY, image("cartoon"));
    expect(await requestRow(pool, id)).toMatchObject({ status: "succeeded", images_succeeded: 1 });
  });

  it("derives the workflow's result by the same rule", () => {
    expect(outcomeOf(3, 0)).toEqual({ status: "succeeded", succeeded: 3, failed: 0 });
    expect(outcomeOf(2, 1)).toEqual({ status: "partially_succeeded", succeeded: 2, failed: 1 });
    expect(outcomeOf(0, 3)).toEqual({ status: "failed", succeeded: 0, failed: 3 });
  });

  it("refuses to run a request that is missing or was rejected", async () => {
    await expect(startRequest(pool, "00000000-0000-4000-8000-000000000000", RUN)).rejects.toThrow(
      new RequestUnusableError("image request 00000000-0000-4000-8000-000000000000 does not exist"),
    );
    const id = await insertRequest(pool, { prompt: "" });
    await pool.query("update image_requests set status = 'failed', error = 'prompt is empty' where id = $1", [
      id,
    ]);
    await expect(startRequest(pool, id, RUN)).rejects.toThrow(
      `image request ${id} was refused before it started (prompt is empty); insert a new request`,
    );
    await expect(
      beginAttempt(pool, "00000000-0000-4000-8000-000000000000", "cartoon", RUN),
    ).rejects.toBeInstanceOf(RequestUnusableError);
  });
});
