// The transaction pooler the Edge Functions use: pgbouncer in transaction mode on 54329, with a server
// pool as small as a small hosted project's, so more clients than that share its connections.
import pg from "pg";
import { describe, expect, it } from "vitest";
import { stackEnv } from "../../scripts/stack/env.ts";
import { POOLER_PORT } from "../../scripts/stack/layout.ts";
import { POOL_SIZE, POOLER_URL } from "../../scripts/stack/pooler.ts";
import { withAdmin } from "../support/db.ts";

describe("the transaction pooler", () => {
  it("is what the stack's environment names for the functions", () => {
    expect(stackEnv().DB_POOLER_URL).toBe(POOLER_URL);
    expect(new URL(POOLER_URL).port).toBe(String(POOLER_PORT));
  });

  it("serves 40 concurrent clients with at most its pool's server connections", {
    timeout: 30_000,
  }, async () => {
    const clients = Array.from({ length: 40 }, () => new pg.Client({ connectionString: POOLER_URL }));
    await Promise.all(clients.map((c) => c.connect()));
    try {
      let peak = 0;
      let done = false;
      const sampler = withAdmin(async (admin) => {
        while (!done) {
          // pgbouncer's server connections carry no application name; this test's marker finds them busy.
          const { rows } = await admin.query<{ n: number }>(
            "select count(*)::int as n from pg_stat_activity where query like '%pooler-test-marker%' and pid <> pg_backend_pid()",
          );
          peak = Math.max(peak, rows[0]!.n);
          await new Promise((r) => setTimeout(r, 20));
        }
      });
      const answers = await Promise.all(
        clients.map((c) => c.query<{ ok: number }>("select 1 as ok, pg_sleep(0.3) /* pooler-test-marker */")),
      );
      done = true;
      await sampler;
      expect(answers.every((a) => a.rows[0]!.ok === 1)).toBe(true);
      expect(peak).toBeGreaterThan(1);
      expect(peak).toBeLessThanOrEqual(POOL_SIZE);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it("runs in transaction mode with the small pool, as pgbouncer itself reports", async () => {
    // pgbouncer's console (database "pgbouncer") answers SHOW for its stats user, postgres.
    const console = new pg.Client({ connectionString: POOLER_URL.replace(/\/postgres$/, "/pgbouncer") });
    await console.connect();
    try {
      const { rows } = await console.query<{ key: string; value: string }>("show config");
      const config = Object.fromEntries(rows.map((r) => [r.key, r.value]));
      expect(config.pool_mode).toBe("transaction");
      expect(Number(config.default_pool_size)).toBe(POOL_SIZE);
    } finally {
      await console.end();
    }
  });
});
