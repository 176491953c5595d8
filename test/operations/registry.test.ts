// The workloads are listed once (functions/routes.ts); everything else that names them must agree: the
// worker's registry, and the SQL that knows each workload by kind (a branch of public.workflow_runs per
// table, app.workflow_call for a retry of a run whose record is gone, the cancel hook
// app.workflow_canceled_<kind>). A workload added in one place and not the others fails here.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workloads } from "../../functions/registry.ts";
import { KINDS, routes } from "../../functions/routes.ts";
import { dropDatabase, freshDatabase } from "../support/db.ts";

const DB = "operations_registry";
let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: await freshDatabase(DB), max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await dropDatabase(DB);
});

it("has one workload in the worker's registry per route, in the same order", () => {
  expect(workloads.map((w) => w.route)).toEqual(routes);
  expect(new Set(KINDS).size).toBe(KINDS.length);
});

describe.each(routes.map((r) => [r.kind, r] as const))("workload %s", (kind, route) => {
  it("is retried from its row with its own workflow (app.workflow_call)", async () => {
    const { rows } = await pool.query<{ func: string | null }>(
      "select app.workflow_call($1, 'some-row') ->> 'func' as func",
      [kind],
    );
    expect(rows[0]!.func).toBe(route.workflow);
  });

  it("has a cancel hook app.workflow_canceled_<kind>(text)", async () => {
    const { rows } = await pool.query<{ hook: string | null }>(
      "select to_regprocedure(format('app.%I(text)', 'workflow_canceled_' || $1::text))::text as hook",
      [kind],
    );
    expect(rows[0]!.hook).toBe(`app.workflow_canceled_${kind}(text)`);
  });

  it("shows a row of its table in workflow_runs under its kind", async () => {
    const [schema, table] = route.table.split(".") as [string, string];
    // The columns an INSERT must give: not null, no default, not generated. All are text today; another
    // type would need a value of its own here, and fails the test saying so.
    const { rows: required } = await pool.query<{ column_name: string; data_type: string }>(
      `select column_name, data_type from information_schema.columns
        where table_schema = $1 and table_name = $2 and is_nullable = 'NO'
          and column_default is null and is_identity = 'NO' and is_generated = 'NEVER'
        order by ordinal_position`,
      [schema, table],
    );
    for (const c of required) expect(`${c.column_name} ${c.data_type}`).toMatch(/ text$/);
    const client = await pool.connect();
    try {
      await client.query("begin");
      const cols = required.map((c) => `"${c.column_name}"`);
      const values = required.map((_, i) => `'2026-01-0${i + 1}'`);
      const inserted = await client.query<{ id: string }>(
        cols.length
          ? `insert into ${route.table} (${cols.join(", ")}) values (${values.join(", ")}) returning id::text`
          : `insert into ${route.table} default values returning id::text`,
      );
      const { rows } = await client.query<{ kind: string; workflow_id: string }>(
        "select kind, workflow_id from public.workflow_runs where row_id = $1 and kind = $2",
        [inserted.rows[0]!.id, kind],
      );
      expect(rows).toEqual([{ kind, workflow_id: `${kind}/${inserted.rows[0]!.id}` }]);
    } finally {
      await client.query("rollback");
      client.release();
    }
  });
});

it("has no cancel hook and no workflow_runs branch for a workload not in the list", async () => {
  const { rows: hooks } = await pool.query<{ kind: string }>(
    `select substr(p.proname, length('workflow_canceled_') + 1) as kind
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'app' and p.proname like 'workflow\\_canceled\\_%'
      order by 1`,
  );
  expect(hooks.map((h) => h.kind)).toEqual([...KINDS].sort());
  const { rows } = await pool.query<{ branches: number }>(
    `select array_length(regexp_split_to_array(pg_get_viewdef('public.workflow_runs'::regclass), 'UNION ALL'), 1) as branches`,
  );
  expect(rows[0]!.branches).toBe(routes.length);
});
