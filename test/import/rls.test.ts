// Row Level Security: anon and authenticated (which hold broad table grants, as on Supabase) see and
// change nothing in the import tables; the service role and the owner (the worker) do.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropDatabase, freshDatabase } from "../support/db.ts";

const DB = "import_rls";
const TABLES = [
  "import_jobs",
  "import_sources",
  "import_source_chunks",
  "import_batches",
  "import_errors",
  "contacts",
];
let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client({ connectionString: await freshDatabase(DB) });
  await client.connect();
  const { rows } = await client.query<{ id: string }>(
    "insert into public.import_jobs (source_url) values ('file://x.csv') returning id",
  );
  const id = rows[0]!.id;
  await client.query(
    "insert into public.import_sources (job_id, gzip, spooled, size) values ($1, false, true, 3)",
    [id],
  );
  await client.query("insert into public.import_source_chunks values ($1, 0, 'a,b')", [id]);
  await client.query("insert into public.import_batches (job_id, batch_index, rows) values ($1, 0, 1)", [id]);
  await client.query("insert into public.import_errors (job_id, line_no, message) values ($1, 2, 'x')", [id]);
  await client.query("insert into public.contacts (email, name) values ('rls@x.test', 'R')");
});
afterAll(async () => {
  await client?.end();
  await dropDatabase(DB);
});

async function as<T>(role: string, fn: () => Promise<T>): Promise<T> {
  await client.query("begin");
  try {
    await client.query(`set local role ${role}`);
    return await fn();
  } finally {
    await client.query("rollback");
  }
}

describe("RLS on the import tables", () => {
  for (const role of ["anon", "authenticated"]) {
    it(`${role} reads nothing and cannot write`, async () => {
      for (const t of TABLES) {
        const { rows } = await as(role, () => client.query(`select count(*)::int as n from public.${t}`));
        expect(rows[0].n, `${role} on ${t}`).toBe(0);
      }
      await expect(
        as(role, () =>
          client.query("insert into public.import_jobs (source_url) values ('https://x/y.csv')"),
        ),
      ).rejects.toThrow(/row-level security/);
      await expect(
        as(role, () => client.query("insert into public.contacts (email, name) values ('a@b.test', 'A')")),
      ).rejects.toThrow(/row-level security/);
      const upd = await as(role, () => client.query("update public.contacts set name = 'hacked'"));
      expect(upd.rowCount).toBe(0);
      await expect(as(role, () => client.query("select * from app.import_fault_injections"))).rejects.toThrow(
        /permission denied/,
      );
    });
  }

  it("service_role and the owner see every row", async () => {
    for (const t of TABLES) {
      const { rows } = await as("service_role", () =>
        client.query(`select count(*)::int as n from public.${t}`),
      );
      expect(rows[0].n, `service_role on ${t}`).toBe(1);
      const own = await client.query(`select count(*)::int as n from public.${t}`);
      expect(own.rows[0].n).toBe(1);
    }
    const rls = await client.query<{ relname: string; relrowsecurity: boolean }>(
      "select relname, relrowsecurity from pg_class where relnamespace = 'public'::regnamespace and relname = any($1)",
      [TABLES],
    );
    expect(rls.rows.every((r) => r.relrowsecurity)).toBe(true);
    expect(rls.rows).toHaveLength(TABLES.length);
  });
});
