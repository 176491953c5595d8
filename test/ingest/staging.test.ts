// Staging writes against a run's state (functions/ingest/staging.ts): a crawl step stalled while its run
// was taken over and finished elsewhere can wake and write; its rows would outlive the index pass that
// empties staging, so a run past its crawl takes no more rows, and a run cannot move on to indexing
// while a staging write of its own is in flight.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toStagingRow, writeStaging } from "../../functions/ingest/staging.ts";
import { dropDatabase, freshDatabase } from "../support/db.ts";

const DB = "ingest_staging_fence";
let db: pg.Pool;
let source: number;

beforeAll(async () => {
  const url = await freshDatabase(DB);
  db = new pg.Pool({ connectionString: url, max: 4 });
  const { rows } = await db.query(
    "insert into ingest_sources (name, kind) values ('docs', 'markdown_dir') returning id",
  );
  source = Number(rows[0].id);
});

afterAll(async () => {
  await db?.end();
  await dropDatabase(DB);
});

const row = (runId: string, path: string) =>
  toStagingRow(runId, source, "markdown_dir", {
    path,
    url: null,
    title: path,
    content: `about ${path}`,
    metadata: {},
  });
const staged = async (runId: string) =>
  Number((await db.query("select count(*) as n from ingest_staging where run_id = $1", [runId])).rows[0].n);

describe("writeStaging", () => {
  it("writes a crawling run's rows, and a run's not yet recorded", async () => {
    await db.query("insert into ingest_runs (id, status) values ('crawling-run', 'crawling')");
    expect(await writeStaging(db, [row("crawling-run", "a.md"), row("crawling-run", "b.md")])).toBe(2);
    expect(await staged("crawling-run")).toBe(2);
    expect(await writeStaging(db, [row("unrecorded-run", "a.md")])).toBe(1);
  });

  it("writes nothing for a run past its crawl", async () => {
    for (const status of ["indexing", "succeeded", "failed"]) {
      const runId = `${status}-run`;
      await db.query("insert into ingest_runs (id, status) values ($1, $2)", [runId, status]);
      expect(await writeStaging(db, [row(runId, "a.md")]), status).toBe(0);
      expect(await staged(runId), status).toBe(0);
    }
  });

  it("a write that waited for its run to move on to indexing writes nothing", async () => {
    await db.query("insert into ingest_runs (id, status) values ('moving-run', 'crawling')");
    const mover = await db.connect();
    try {
      await mover.query("begin");
      await mover.query("update ingest_runs set status = 'indexing' where id = 'moving-run'");
      const write = writeStaging(db, [row("moving-run", "late.md")]);
      await new Promise((r) => setTimeout(r, 200));
      await mover.query("commit");
      expect(await write).toBe(0);
      expect(await staged("moving-run")).toBe(0);
    } finally {
      mover.release();
    }
  });

  it("a run moves on to indexing only once a staging write in flight has committed", async () => {
    await db.query("insert into ingest_runs (id, status) values ('busy-run', 'crawling')");
    const writer = await db.connect();
    try {
      await writer.query("begin");
      expect(await writeStaging(writer, [row("busy-run", "a.md")])).toBe(1);
      let moved = false;
      const move = db.query("update ingest_runs set status = 'indexing' where id = 'busy-run'").then(() => {
        moved = true;
      });
      await new Promise((r) => setTimeout(r, 200));
      expect(moved).toBe(false);
      await writer.query("commit");
      await move;
      expect(await staged("busy-run")).toBe(1);
    } finally {
      writer.release();
    }
  });
});
