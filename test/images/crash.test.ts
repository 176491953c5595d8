// SIGKILL the worker in the middle of a fan-out, start another, and check in the database that the
// finished style was not generated again and the interrupted ones completed.
import type pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { dropDatabase, freshDatabase, pool as makePool } from "../support/db.ts";
import {
  imageRows,
  insertRequest,
  removeStoredImages,
  requestRow,
  starter,
  waitFor,
  waitForFinal,
} from "../support/images/harness.ts";
import { startWorker, type WorkerProcess } from "../support/worker.ts";

const DB = "images_crash_test";
const GROUP = `images-crash-${process.pid}`;
// A short lease, so the killed worker's task is handed to the next worker within seconds.
const env = (url: string) => ({ DATABASE_URL: url, RESONATE_GROUP: GROUP, RESONATE_TTL_MS: "2000" });

let url: string;
let pool: pg.Pool;
const workers: WorkerProcess[] = [];
let client: ReturnType<typeof starter>;

beforeAll(async () => {
  url = await freshDatabase(DB);
  pool = makePool(url);
  // Teardown drops the database with force, which can reach an idle connection before pool.end() has closed it.
  pool.on("error", () => {});
  client = starter(url, GROUP);
});

afterAll(async () => {
  for (const w of workers) await w.kill();
  await client?.resonate.stop();
  if (pool) await removeStoredImages(pool);
  await pool?.end();
  await dropDatabase(DB);
});

it("after SIGKILL mid fan-out, finished styles are not generated again and the rest complete", async () => {
  const first = startWorker(env(url));
  workers.push(first);
  await first.waitForOutput('"event":"started"');
  // The fast style sits between two slow ones: the workflow is still waiting on the first slow branch
  // when the fast one finishes, so its durable promise is not yet settled when the worker dies. Only
  // the image row tells the restarted branch that the work is done.
  const id = await insertRequest(pool, {
    prompt: "a harbour in fog",
    styles: ["cartoon", "photorealistic", "abstract"],
    options: { latency_ms: { cartoon: 3000, photorealistic: 200, abstract: 3000 } },
  });
  await client.start(id);

  const before = await waitFor("the fast style to finish while the slow ones run", async () => {
    const images = await imageRows(pool, id);
    const done = images.photorealistic?.status === "succeeded";
    const running = images.cartoon?.status === "running" && images.abstract?.status === "running";
    return done && running ? images : undefined;
  });
  expect(await first.kill("SIGKILL")).toBe(null);
  // All three branch promises were still pending in the store (the fast one's included).
  const { rows: pending } = await pool.query<{ n: number }>(
    "select count(*)::int as n from resonate.promises where id like $1 and state = 'pending' and id <> $2",
    [`images/${id}:%`, `images/${id}`],
  );
  expect(pending[0]!.n).toBe(3);
  expect(first.proc.signalCode).toBe("SIGKILL");
  expect((await requestRow(pool, id)).status).toBe("running");
  expect([before.cartoon!.attempts, before.abstract!.attempts]).toEqual([1, 1]);

  const second = startWorker(env(url));
  workers.push(second);
  const req = await waitForFinal(pool, id, 30_000);
  expect(req).toMatchObject({ status: "succeeded", images_succeeded: 3, images_failed: 0 });

  const after = await imageRows(pool, id);
  // Not called again: one provider call, the same bytes, the same finish time as before the kill.
  expect(after.photorealistic).toMatchObject({
    status: "succeeded",
    attempts: 1,
    sha256: before.photorealistic!.sha256,
  });
  expect(after.photorealistic!.finished_at).toEqual(before.photorealistic!.finished_at);
  // Interrupted mid-call: the restarted worker made exactly one more call each.
  expect(after.cartoon).toMatchObject({ status: "succeeded", attempts: 2 });
  expect(after.abstract).toMatchObject({ status: "succeeded", attempts: 2 });
  expect(second.output()).toContain('"style":"cartoon","attempt":2');
  expect(second.output()).not.toContain('"style":"photorealistic"');
});
