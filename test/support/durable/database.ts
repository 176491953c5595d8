// A database of its own for a durable-store test file: migrations applied, the fixture tables created,
// and a Resonate client that only starts workflows (its group never receives the workers' tasks).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Resonate } from "@resonatehq/sdk";
import pg from "pg";
import { createResonate } from "../../../functions/shared/resonate-client.ts";
import { dropDatabase, freshDatabase } from "../db.ts";
import type { FixtureWorker } from "./processes.ts";

export interface FixtureDatabase {
  url: string;
  pool: pg.Pool;
  starter: Resonate;
  /** Workers the file started, killed on close. */
  workers: FixtureWorker[];
  close(): Promise<void>;
}

export async function fixtureDatabase(name: string, starterGroup: string): Promise<FixtureDatabase> {
  const url = await freshDatabase(name);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // The Postgres-restart test breaks idle connections on purpose; the pool replaces them.
  pool.on("error", () => {});
  await pool.query(readFileSync(join(import.meta.dirname, "schema.sql"), "utf8"));
  const starter = createResonate({
    databaseUrl: url,
    group: starterGroup,
    resonate: { serverUrl: undefined, group: starterGroup, ttlMs: 10_000, tickMs: 100 },
  });
  const workers: FixtureWorker[] = [];
  return {
    url,
    pool,
    starter,
    workers,
    async close() {
      await Promise.all(workers.map((w) => w.kill()));
      await starter.stop();
      await pool.end();
      await dropDatabase(name);
    },
  };
}
