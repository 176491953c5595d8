// Database helpers for integration tests. `freshDatabase` gives a test its own database on the stack's
// cluster, with the platform stand-ins and every migration applied (by the Supabase CLI, as postgres),
// so it can truncate or break things without touching the shared `postgres` database that the
// functions server and workers use.
import pg from "pg";
import { dropDatabase, freshDatabase } from "../../scripts/stack/databases.ts";
import { DB_URL, databaseUrl, withAdmin, withClient } from "../../scripts/stack/postgres.ts";

export { DB_URL, databaseUrl, dropDatabase, freshDatabase, withAdmin, withClient };

export function pool(url = DB_URL, max = 4): pg.Pool {
  return new pg.Pool({ connectionString: url, max });
}
