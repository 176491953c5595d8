// pg_cron, pgvector, the Vault stand-in, the platform's roles and migrations through the Supabase CLI,
// each exercised for real.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPlatformDatabase } from "../../scripts/stack/databases.ts";
import { FUNCTIONS_URL } from "../../scripts/stack/env.ts";
import { applyMigrations, listMigrations } from "../../scripts/stack/migrate.ts";
import { DB_URL, dropDatabase, withClient } from "../support/db.ts";
import { eventually } from "../support/http-server.ts";

let client: pg.Client;

beforeAll(async () => {
  client = new pg.Client({ connectionString: DB_URL });
  await client.connect();
});

afterAll(async () => {
  await client.end();
});

describe("pg_cron", () => {
  it("really fires a * * * * * job", { timeout: 130_000 }, async () => {
    await client.query("create table if not exists public.cron_probe (fired_at timestamptz default now())");
    await client.query("truncate public.cron_probe");
    await client.query(
      "select cron.schedule('stack-test-probe', '* * * * *', 'insert into public.cron_probe default values')",
    );
    try {
      const fired = await eventually(
        "the cron job to fire",
        async () => {
          const { rows } = await client.query<{ n: number }>(
            "select count(*)::int as n from public.cron_probe",
          );
          return rows[0]!.n > 0 ? rows[0]!.n : undefined;
        },
        125_000,
      );
      expect(fired).toBeGreaterThan(0);
      // pg_cron records the run's outcome just after the job's own transaction commits.
      const status = await eventually("the run's recorded status", async () => {
        const { rows } = await client.query<{ status: string }>(
          `select d.status from cron.job_run_details d join cron.job j using (jobid)
            where j.jobname = 'stack-test-probe' and d.status not in ('starting', 'running')
            order by d.start_time desc nulls last limit 1`,
        );
        return rows[0]?.status;
      });
      expect(status).toBe("succeeded");
    } finally {
      await client.query("select cron.unschedule('stack-test-probe')");
      await client.query("drop table public.cron_probe");
    }
  });
});

describe("pgvector", () => {
  it("stores vectors, builds an HNSW index and orders by cosine distance", async () => {
    await client.query(`
      drop table if exists public.vector_probe;
      create table public.vector_probe (id int primary key, embedding extensions.vector(3));
      insert into public.vector_probe values (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]');
      create index on public.vector_probe using hnsw (embedding extensions.vector_cosine_ops);`);
    try {
      await client.query("begin");
      // With sequential scans off the planner must use the HNSW index if it can; the plan proves it does.
      await client.query("set local enable_seqscan = off");
      const plan = await client.query<{ "QUERY PLAN": string }>(
        `explain select id from public.vector_probe order by embedding operator(extensions.<=>) '[1,0,0]' limit 3`,
      );
      expect(plan.rows.map((r) => r["QUERY PLAN"]).join("\n")).toMatch(
        /Index Scan using vector_probe_embedding_idx/,
      );
      const { rows } = await client.query<{ id: number; d: number }>(
        `select id, (embedding operator(extensions.<=>) '[1,0,0]')::float8 as d
           from public.vector_probe order by embedding operator(extensions.<=>) '[1,0,0]' limit 3`,
      );
      await client.query("commit");
      expect(rows.map((r) => r.id)).toEqual([1, 3, 2]);
      expect(rows[0]!.d).toBeCloseTo(0, 6);
    } finally {
      await client.query("drop table public.vector_probe");
    }
  });
});

describe("Vault stand-in", () => {
  it("has the stack's secrets under the names the trigger path reads", async () => {
    const { rows } = await client.query<{ name: string; decrypted_secret: string }>(
      "select name, decrypted_secret from vault.decrypted_secrets where name in ('functions_url', 'webhook_secret') order by name",
    );
    expect(rows.map((r) => r.name)).toEqual(["functions_url", "webhook_secret"]);
    expect(rows[0]!.decrypted_secret).toBe(FUNCTIONS_URL);
    expect(rows[1]!.decrypted_secret).toBe(process.env.WEBHOOK_SECRET);
  });

  it("is not readable by anon or authenticated", async () => {
    await client.query("begin");
    try {
      await client.query("set local role anon");
      await expect(client.query("select * from vault.decrypted_secrets")).rejects.toThrow(
        /permission denied/,
      );
    } finally {
      await client.query("rollback");
    }
  });
});

describe("migrations", () => {
  const name = "stack_migrations_test";
  afterAll(() => dropDatabase(name));

  it("are applied by the Supabase CLI, each file once, and a second push applies nothing", async () => {
    const url = await createPlatformDatabase(name);
    const applied = await applyMigrations(url);
    const files = listMigrations().map((m) => `${m.version}_${m.name}`);
    expect(applied).toEqual(files);
    await withClient(async (c) => {
      const { rows } = await c.query<{ version: string; name: string }>(
        "select version, name from supabase_migrations.schema_migrations order by version",
      );
      expect(rows.map((r) => `${r.version}_${r.name}`)).toEqual(files);
    }, url);
    expect(await applyMigrations(url)).toEqual([]);
  });

  it("roll a failing file back whole and report which file failed", async () => {
    const workdir = mkdtempSync(join(tmpdir(), "migrations-"));
    const dir = join(workdir, "supabase", "migrations");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "20990101000000_ok.sql"), "create table mig_ok (id int);");
    writeFileSync(join(dir, "20990101000001_bad.sql"), "create table mig_half (id int); select 1/0;");
    const url = await createPlatformDatabase(name);
    await expect(applyMigrations(url, workdir)).rejects.toThrow(
      /failed in 20990101000001_bad\.sql: .*division by zero/s,
    );
    await withClient(async (c) => {
      const { rows } = await c.query<{ t: string | null; half: string | null }>(
        "select to_regclass('mig_ok')::text as t, to_regclass('mig_half')::text as half",
      );
      expect(rows[0]).toEqual({ t: "mig_ok", half: null });
    }, url);
  });

  it("run as postgres, which is not a superuser, so a statement that needs one fails as it would hosted", async () => {
    const workdir = mkdtempSync(join(tmpdir(), "migrations-"));
    const dir = join(workdir, "supabase", "migrations");
    mkdirSync(dir, { recursive: true });
    // Event triggers need a superuser; Supabase documents them as unsupported for postgres.
    writeFileSync(
      join(dir, "20990101000000_needs_superuser.sql"),
      `create function public.ddl_probe() returns event_trigger language plpgsql as $$ begin end $$;
       create event trigger ddl_probe on ddl_command_end execute function public.ddl_probe();`,
    );
    const url = await createPlatformDatabase(name);
    await expect(applyMigrations(url, workdir)).rejects.toThrow(
      /permission denied to create event trigger "ddl_probe"/,
    );
  });
});

describe("roles", () => {
  it("postgres has the platform's attributes and is not a superuser; supabase_admin is", async () => {
    const { rows } = await client.query<Record<string, unknown>>(
      `select rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls
         from pg_roles where rolname in ('postgres', 'supabase_admin') order by rolname`,
    );
    expect(rows).toEqual([
      {
        rolname: "postgres",
        rolsuper: false,
        rolcreaterole: true,
        rolcreatedb: true,
        rolreplication: true,
        rolbypassrls: true,
      },
      {
        rolname: "supabase_admin",
        rolsuper: true,
        rolcreaterole: true,
        rolcreatedb: true,
        rolreplication: true,
        rolbypassrls: true,
      },
    ]);
    const who = await client.query<{ user: string; bootstrap: string }>(
      "select current_user as user, (select rolname from pg_roles where oid = 10) as bootstrap",
    );
    expect(who.rows[0]).toEqual({ user: "postgres", bootstrap: "supabase_admin" });
  });

  it("the app's objects belong to postgres, the platform's to supabase_admin", async () => {
    const { rows } = await client.query<{ nspname: string; owner: string }>(
      `select nspname, pg_get_userbyid(nspowner) as owner from pg_namespace
        where nspname in ('app', 'resonate', 'net', 'vault', 'cron') order by nspname`,
    );
    expect(Object.fromEntries(rows.map((r) => [r.nspname, r.owner]))).toEqual({
      app: "postgres",
      cron: "supabase_admin",
      net: "supabase_admin",
      resonate: "postgres",
      vault: "supabase_admin",
    });
  });
});
