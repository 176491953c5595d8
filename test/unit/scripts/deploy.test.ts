// The deploy script's dry run: the commands it would run, in order, with every secret masked.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  customDomain,
  edgeFunctions,
  plan,
  readDeployEnv,
  render,
  skippedFunctions,
} from "../../../scripts/deploy.ts";
import { NODE_BIN, ROOT } from "../../../scripts/stack/layout.ts";

const env = {
  SUPABASE_ACCESS_TOKEN: "sbp_access-token-000",
  SUPABASE_PROJECT_REF: "abcdefghijklmnopqrst",
  DATABASE_URL:
    "postgresql://postgres.abcdefghijklmnopqrst:db-password-123@aws-0-eu-central-1.pooler.supabase.com:5432/postgres",
  WEBHOOK_SECRET: "webhook-secret-456",
  RESONATE_URL: "https://resonate.example.com",
  INGEST_EMBEDDINGS: "none",
};

const cli = "node_modules/.bin/supabase";
// The test run has the local stack's environment, whose DB_POOLER_URL the deploy rightly refuses.
const { DB_POOLER_URL: _local, ...shell } = process.env;
const ref = env.SUPABASE_PROJECT_REF;

describe("scripts/deploy.ts", () => {
  it("prints every command in order in a dry run, secrets masked, and runs nothing", () => {
    const res = spawnSync(NODE_BIN, [join(ROOT, "scripts/deploy.ts"), "--dry-run"], {
      env: { ...shell, ...env },
      encoding: "utf8",
    });
    expect(res.stderr).toBe("");
    expect(res.status).toBe(0);
    const commands = res.stdout.split("\n").filter((line) => line.startsWith(`${cli} `));
    expect(commands).toEqual([
      `${cli} db push --db-url *** --yes`,
      `${cli} db query --db-url *** "do \\$\\$ declare s record; begin for s in select * from (values ` +
        `('functions_url', 'https://${ref}.supabase.co/functions/v1'), ('webhook_secret', '***')) v(name, secret) ` +
        "loop perform vault.update_secret(id, s.secret) from vault.secrets where name = s.name; " +
        'if not found then perform vault.create_secret(s.secret, s.name); end if; end loop; end \\$\\$"',
      `${cli} secrets set --project-ref ${ref} WEBHOOK_SECRET=*** DB_POOLER_URL=*** RESONATE_URL=*** INGEST_EMBEDDINGS=none`,
      ...edgeFunctions().map((fn) => `${cli} functions deploy ${fn} --project-ref ${ref} --use-api`),
    ]);
    expect(res.stdout).toContain("dry run: nothing was executed");
    const { SUPABASE_PROJECT_REF: _ref, INGEST_EMBEDDINGS: _mode, ...secrets } = env;
    for (const secret of Object.values(secrets)) expect(res.stdout).not.toContain(secret);
    expect(res.stdout).not.toContain("db-password-123");
  });

  it("prints each command as a POSIX shell reads it, so what is printed is what runs", () => {
    for (const step of plan(readDeployEnv(env))) {
      const printed = render({ ...step, secrets: [] });
      const res = spawnSync("sh", ["-c", `printf '%s\\0' ${printed}`], { encoding: "utf8" });
      expect(res.stdout.split("\0").slice(0, -1), step.title).toEqual(step.argv);
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
      `DB_POOLER_URL=${env.DATABASE_URL.replace(":5432/", ":6543/")}`,
      `RESONATE_URL=${env.RESONATE_URL}`,
      "INGEST_EMBEDDINGS=none",
    ]);
  });

  it("refuses embedding settings the search function cannot run, saying what to set", () => {
    const { INGEST_EMBEDDINGS: _none, ...local } = env;
    expect(() => readDeployEnv(local)).toThrow(
      /the local embedding model \(INGEST_EMBEDDINGS=local, the default\) cannot run inside an Edge Function .*set INGEST_EMBEDDINGS=none/,
    );
    expect(() => readDeployEnv({ ...env, INGEST_EMBEDDINGS: "openai" })).toThrow(/OPENAI_API_KEY/);
  });

  it("refuses a DB_POOLER_URL on this machine, as the local stack's env would leave it", () => {
    expect(() =>
      readDeployEnv({ ...env, DB_POOLER_URL: "postgresql://postgres:postgres@127.0.0.1:54329/postgres" }),
    ).toThrow(
      "DB_POOLER_URL points at this machine (127.0.0.1:54329), probably from the local stack's env: unset it, or set the project's transaction pooler",
    );
  });

  it("points the Edge Functions at the transaction pooler of the session pooler's host, or says it cannot", () => {
    expect(readDeployEnv(env).DB_POOLER_URL).toBe(env.DATABASE_URL.replace(":5432/", ":6543/"));
    const direct = {
      ...env,
      DATABASE_URL: "postgresql://postgres:pw@db.abcdefghijklmnopqrst.supabase.co:5432/postgres",
    };
    expect(readDeployEnv(direct).DB_POOLER_URL).toBeUndefined();
    expect(
      readDeployEnv({ ...direct, DB_POOLER_URL: "postgresql://x:y@h:6543/postgres" }).DB_POOLER_URL,
    ).toBe("postgresql://x:y@h:6543/postgres");
    const res = spawnSync(NODE_BIN, [join(ROOT, "scripts/deploy.ts"), "--dry-run"], {
      env: { ...shell, ...direct },
      encoding: "utf8",
    });
    expect(res.stdout).toContain("the Edge Functions\n# will use the direct connection (SUPABASE_DB_URL)");
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

  it("says what the gallery needs: without a custom domain it answers plain text and JSON, not HTML", () => {
    const dryRun = (...args: string[]) =>
      spawnSync(NODE_BIN, [join(ROOT, "scripts/deploy.ts"), "--dry-run", ...args], {
        env: { ...shell, ...env },
        encoding: "utf8",
      }).stdout;
    const plain = dryRun();
    expect(plain).toContain(`# gallery: https://${ref}.supabase.co/functions/v1/gallery answers plain text`);
    expect(plain).toMatch(/rewrite text\/html to text\/plain unless the project has a custom domain/);
    expect(plain).toContain("--custom-domain <host>");
    expect(plain).not.toContain("GALLERY_HTML=true");

    const html = dryRun("--custom-domain", "api.example.com");
    expect(html).toMatch(/secrets set .* GALLERY_HTML=true\n/);
    expect(html).toContain("# gallery: https://api.example.com/functions/v1/gallery shows the HTML page");

    expect(dryRun("--skip", "gallery")).not.toContain("# gallery:");
    expect(() => customDomain(["--custom-domain", "https://api.example.com"])).toThrow(
      /--custom-domain needs a host name such as api.example.com, got https:\/\/api.example.com/,
    );
  });

  it("names the missing variables and rejects a malformed project ref, database URL or webhook secret", () => {
    expect(() => readDeployEnv({})).toThrow(
      /set SUPABASE_ACCESS_TOKEN, SUPABASE_PROJECT_REF, DATABASE_URL, WEBHOOK_SECRET/,
    );
    expect(() => readDeployEnv({ ...env, SUPABASE_PROJECT_REF: "nope" })).toThrow(/20-character project ref/);
    expect(() => readDeployEnv({ ...env, DATABASE_URL: "db.abcdefghijklmnopqrst.supabase.co" })).toThrow(
      /postgresql:\/\/ URL with the password percent-encoded/,
    );
    expect(() => readDeployEnv({ ...env, WEBHOOK_SECRET: "it's" })).toThrow(/letters, digits and -._~\+\//);
  });
});
