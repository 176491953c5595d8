// The deploy script's dry run: the commands it would run, in order, with every secret masked.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { edgeFunctions, plan, readDeployEnv, render, skippedFunctions } from "../../scripts/deploy.ts";
import { NODE_BIN, ROOT } from "../../scripts/stack/layout.ts";

const env = {
  SUPABASE_PROJECT_REF: "abcdefghijklmnopqrst",
  SUPABASE_DB_PASSWORD: "db-password-123",
  WEBHOOK_SECRET: "webhook-secret-456",
  DATABASE_URL: "postgresql://postgres:db-password-123@db.abcdefghijklmnopqrst.supabase.co:5432/postgres",
  RESONATE_URL: "https://resonate.example.com",
};

describe("scripts/deploy.ts", () => {
  it("prints every step in order in a dry run and runs nothing", () => {
    const res = spawnSync(NODE_BIN, [join(ROOT, "scripts/deploy.ts"), "--dry-run"], {
      env: { ...process.env, ...env },
      encoding: "utf8",
    });
    expect(res.status).toBe(0);
    const out = res.stdout;
    const order = [
      "link --project-ref abcdefghijklmnopqrst",
      "db push",
      "vault.create_secret",
      "secrets set",
    ];
    let at = -1;
    for (const needle of order) {
      const i = out.indexOf(needle);
      expect(i, needle).toBeGreaterThan(at);
      at = i;
    }
    for (const fn of edgeFunctions()) expect(out).toContain(`functions deploy ${fn} `);
    expect(out).toContain("dry run: nothing was executed");
    for (const secret of [env.SUPABASE_DB_PASSWORD, env.WEBHOOK_SECRET, env.RESONATE_URL]) {
      expect(out).not.toContain(secret);
    }
  });

  it("gives the Edge Functions the worker's embedding settings, masked, so search embeds with the same model", () => {
    const steps = plan(
      readDeployEnv({
        ...env,
        INGEST_EMBEDDINGS: "openai",
        OPENAI_API_KEY: "sk-secret-789",
        OPENAI_EMBEDDING_MODEL: "m",
      }),
    );
    const secrets = steps.find((s) => s.title.includes("secrets"))!;
    expect(secrets.argv).toEqual(
      expect.arrayContaining([
        "INGEST_EMBEDDINGS=openai",
        "OPENAI_API_KEY=sk-secret-789",
        "OPENAI_EMBEDDING_MODEL=m",
      ]),
    );
    expect(secrets.argv.some((a) => a.startsWith("OPENAI_BASE_URL="))).toBe(false);
    expect(render(secrets)).not.toContain("sk-secret-789");
    const local = plan(readDeployEnv(env)).find((s) => s.title.includes("secrets"))!;
    expect(local.argv.filter((a) => a.includes("="))).toEqual([
      `WEBHOOK_SECRET=${env.WEBHOOK_SECRET}`,
      `RESONATE_URL=${env.RESONATE_URL}`,
    ]);
  });

  it("leaves out the functions named with --skip and refuses an unknown name", () => {
    const deployed = (argv: string[]) =>
      plan(readDeployEnv(env), skippedFunctions(argv))
        .filter((s) => s.argv.includes("functions"))
        .map((s) => s.argv[s.argv.indexOf("deploy") + 1]);
    expect(deployed([])).toEqual(edgeFunctions());
    expect(deployed(["--dry-run", "--skip", "gallery"])).toEqual(
      edgeFunctions().filter((f) => f !== "gallery"),
    );
    expect(() => skippedFunctions(["--skip", "galery"])).toThrow(
      /--skip needs the name of an Edge Function \(.*gallery.*\), got galery/,
    );
    expect(() => skippedFunctions(["--skip"])).toThrow(/got nothing/);
  });

  it("names the missing variables and rejects a malformed project ref", () => {
    expect(() => readDeployEnv({})).toThrow(
      /set SUPABASE_PROJECT_REF, SUPABASE_DB_PASSWORD, WEBHOOK_SECRET, DATABASE_URL/,
    );
    expect(() => readDeployEnv({ ...env, SUPABASE_PROJECT_REF: "nope" })).toThrow(/20-character project ref/);
  });

  it("stores the functions URL and the webhook secret in Vault under the names the triggers read", () => {
    const vault = plan(readDeployEnv(env)).find((s) => s.title.includes("Vault"))!;
    const sql = vault.argv.at(-1)!;
    expect(sql).toContain("'https://abcdefghijklmnopqrst.supabase.co/functions/v1', 'functions_url'");
    expect(sql).toContain("'webhook_secret'");
    expect(render(vault)).not.toContain(env.WEBHOOK_SECRET);
  });
});
