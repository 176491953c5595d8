// `npm run deploy -- [--dry-run] [--skip <function>]...`: puts this project on a hosted Supabase project with the Supabase CLI
// (run through npx, so nothing here depends on it being installed). Every step is printed before it
// runs; --dry-run prints them without running anything. Secrets are passed through the environment
// and masked in what is printed.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./stack/layout.ts";

export const SUPABASE_CLI = "supabase@3.1.0";

export interface DeployEnv {
  SUPABASE_PROJECT_REF: string;
  SUPABASE_DB_PASSWORD: string;
  WEBHOOK_SECRET: string;
  DATABASE_URL: string;
  RESONATE_URL?: string;
  /** The worker's embedding settings, which the search function must share (docs/ingest.md). */
  embeddings: Record<string, string>;
}

const EMBEDDING_VARS = ["INGEST_EMBEDDINGS", "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_EMBEDDING_MODEL"];

export interface Step {
  title: string;
  argv: string[];
  /** Values that must never be printed. */
  secrets: string[];
}

const REQUIRED: (keyof DeployEnv)[] = [
  "SUPABASE_PROJECT_REF",
  "SUPABASE_DB_PASSWORD",
  "WEBHOOK_SECRET",
  "DATABASE_URL",
];

export function readDeployEnv(env: NodeJS.ProcessEnv): DeployEnv {
  const missing = REQUIRED.filter((k) => !env[k]);
  if (missing.length) throw new Error(`set ${missing.join(", ")} (see docs/deploy.md)`);
  if (!/^[a-z0-9]{20}$/.test(env.SUPABASE_PROJECT_REF!)) {
    throw new Error("SUPABASE_PROJECT_REF must be the 20-character project ref from the dashboard URL");
  }
  return {
    SUPABASE_PROJECT_REF: env.SUPABASE_PROJECT_REF!,
    SUPABASE_DB_PASSWORD: env.SUPABASE_DB_PASSWORD!,
    WEBHOOK_SECRET: env.WEBHOOK_SECRET!,
    DATABASE_URL: env.DATABASE_URL!,
    RESONATE_URL: env.RESONATE_URL || undefined,
    embeddings: Object.fromEntries(EMBEDDING_VARS.filter((k) => env[k]).map((k) => [k, env[k]!])),
  };
}

export function edgeFunctions(dir = join(ROOT, "supabase", "functions")): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith("_") && !d.name.startsWith("."))
    .map((d) => d.name)
    .sort();
}

const sqlLiteral = (s: string) => `'${s.replaceAll("'", "''")}'`;

function upsertVaultSecret(name: string, value: string): string {
  return `select vault.update_secret(id, ${sqlLiteral(value)}) from vault.secrets where name = ${sqlLiteral(name)};
select vault.create_secret(${sqlLiteral(value)}, ${sqlLiteral(name)})
 where not exists (select from vault.secrets where name = ${sqlLiteral(name)});`;
}

/** `--skip <name>` (repeatable): Edge Functions not to deploy, each checked against the folder names. */
export function skippedFunctions(argv: string[], known = edgeFunctions()): string[] {
  const skip: string[] = [];
  argv.forEach((arg, i) => {
    if (arg !== "--skip") return;
    const name = argv[i + 1];
    if (!name || !known.includes(name)) {
      throw new Error(
        `--skip needs the name of an Edge Function (${known.join(", ")}), got ${name ?? "nothing"}`,
      );
    }
    skip.push(name);
  });
  return skip;
}

export function plan(env: DeployEnv, skip: string[] = []): Step[] {
  const npx = ["npx", "--yes", SUPABASE_CLI];
  const functionsUrl = `https://${env.SUPABASE_PROJECT_REF}.supabase.co/functions/v1`;
  const fnSecrets = [`WEBHOOK_SECRET=${env.WEBHOOK_SECRET}`];
  if (env.RESONATE_URL) fnSecrets.push(`RESONATE_URL=${env.RESONATE_URL}`);
  for (const [k, v] of Object.entries(env.embeddings)) fnSecrets.push(`${k}=${v}`);
  return [
    {
      title: "link the project",
      argv: [
        ...npx,
        "link",
        "--project-ref",
        env.SUPABASE_PROJECT_REF,
        "--password",
        env.SUPABASE_DB_PASSWORD,
      ],
      secrets: [env.SUPABASE_DB_PASSWORD],
    },
    {
      title: "push the migrations (app tables, the resonate schema, triggers, cron jobs)",
      argv: [...npx, "db", "push", "--password", env.SUPABASE_DB_PASSWORD],
      secrets: [env.SUPABASE_DB_PASSWORD],
    },
    {
      title: "store where the triggers post and the bearer they send in Vault",
      argv: [
        "psql",
        env.DATABASE_URL,
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        `${upsertVaultSecret("functions_url", functionsUrl)}\n${upsertVaultSecret("webhook_secret", env.WEBHOOK_SECRET)}`,
      ],
      secrets: [env.WEBHOOK_SECRET, env.DATABASE_URL],
    },
    {
      title: "set the Edge Functions' secrets",
      argv: [...npx, "secrets", "set", "--project-ref", env.SUPABASE_PROJECT_REF, ...fnSecrets],
      secrets: [
        env.WEBHOOK_SECRET,
        ...(env.RESONATE_URL ? [env.RESONATE_URL] : []),
        ...(env.embeddings.OPENAI_API_KEY ? [env.embeddings.OPENAI_API_KEY] : []),
      ],
    },
    ...edgeFunctions()
      .filter((name) => !skip.includes(name))
      .map((name) => ({
        title: `deploy the ${name} Edge Function`,
        argv: [...npx, "functions", "deploy", name, "--project-ref", env.SUPABASE_PROJECT_REF],
        secrets: [],
      })),
  ];
}

export function render(step: Step): string {
  let line = step.argv.map((a) => (/[\s'"$;]/.test(a) ? JSON.stringify(a) : a)).join(" ");
  for (const s of step.secrets) if (s) line = line.replaceAll(s, "***");
  return line;
}

function main(): void {
  const dryRun = process.argv.includes("--dry-run");
  const env = readDeployEnv(process.env);
  const steps = plan(env, skippedFunctions(process.argv.slice(2)));
  steps.forEach((step, i) => {
    console.log(`# ${i + 1}/${steps.length} ${step.title}\n${render(step)}`);
    if (dryRun) return;
    const res = spawnSync(step.argv[0]!, step.argv.slice(1), { stdio: "inherit", cwd: ROOT });
    if (res.status !== 0) {
      console.error(
        `deploy: step ${i + 1} failed (${step.title}); fix it and run again: every step is idempotent`,
      );
      process.exit(1);
    }
  });
  console.log(`
# then run the worker where it can reach the database, with DATABASE_URL, SUPABASE_URL,
# SUPABASE_SERVICE_ROLE_KEY and your provider settings in .env (see docs/deploy.md):
#   node_modules/.bin/node --env-file=.env scripts/worker.ts
${dryRun ? "# dry run: nothing was executed" : "# deployed"}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    main();
  } catch (err) {
    console.error(`deploy: ${(err as Error).message}`);
    process.exit(2);
  }
}
