// `npm run deploy -- [--dry-run] [--skip <function>]... [--custom-domain <host>]`: puts this project on a
// hosted Supabase project with the Supabase CLI that package.json pins (node_modules/.bin/supabase). Every
// step is printed before it runs; --dry-run prints them without running anything. Secrets are masked in
// what is printed.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { searchFunctionEmbeddingsProblem } from "../functions/ingest/search-embedder.ts";
import { galleryNote } from "./deploy/gallery.ts";
import { ROOT } from "./stack/layout.ts";

/** Relative to the project root, where every step runs, so a printed command reads as what runs. */
export const SUPABASE_CLI = "node_modules/.bin/supabase";

export interface DeployEnv {
  SUPABASE_PROJECT_REF: string;
  /** The session pooler's URL: the direct db.<ref>.supabase.co host is IPv6-only without the IPv4 add-on. */
  DATABASE_URL: string;
  WEBHOOK_SECRET: string;
  /** The transaction pooler the Edge Functions use (Supavisor, port 6543), if one is known. */
  DB_POOLER_URL?: string;
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

// SUPABASE_ACCESS_TOKEN is read by the CLI itself: every step but the database ones calls the Management
// API, which answers "Access token not provided" without it.
const REQUIRED = ["SUPABASE_ACCESS_TOKEN", "SUPABASE_PROJECT_REF", "DATABASE_URL", "WEBHOOK_SECRET"];

/** The worker's embedding settings, which the search function shares; refused if it cannot run them. */
function searchEmbeddings(env: NodeJS.ProcessEnv): Record<string, string> {
  const embeddings = Object.fromEntries(EMBEDDING_VARS.filter((k) => env[k]).map((k) => [k, env[k]!]));
  const problem = searchFunctionEmbeddingsProblem(embeddings);
  if (problem) throw new Error(problem);
  return embeddings;
}

export function readDeployEnv(env: NodeJS.ProcessEnv): DeployEnv {
  const missing = REQUIRED.filter((k) => !env[k]);
  if (missing.length) throw new Error(`set ${missing.join(", ")} (see docs/deploy.md)`);
  if (!/^[a-z0-9]{20}$/.test(env.SUPABASE_PROJECT_REF!)) {
    throw new Error("SUPABASE_PROJECT_REF must be the 20-character project ref from the dashboard URL");
  }
  const dbUrl = URL.canParse(env.DATABASE_URL!) ? new URL(env.DATABASE_URL!) : undefined;
  if (!dbUrl || !/^postgres(ql)?:$/.test(dbUrl.protocol)) {
    throw new Error(
      "DATABASE_URL must be a postgresql:// URL with the password percent-encoded (Dashboard > Connect > Session pooler)",
    );
  }
  // The triggers send it as a bearer token, whose syntax (RFC 6750) also keeps it safe inside SQL quotes.
  if (!/^[\w.~+/-]+=*$/.test(env.WEBHOOK_SECRET!)) {
    throw new Error(
      "WEBHOOK_SECRET may hold only letters, digits and -._~+/ (openssl rand -hex 32 makes one)",
    );
  }
  return {
    SUPABASE_PROJECT_REF: env.SUPABASE_PROJECT_REF!,
    DATABASE_URL: env.DATABASE_URL!,
    WEBHOOK_SECRET: env.WEBHOOK_SECRET!,
    DB_POOLER_URL: poolerUrlFor(env.DB_POOLER_URL, dbUrl),
    RESONATE_URL: env.RESONATE_URL || undefined,
    embeddings: searchEmbeddings(env),
  };
}

/**
 * Supavisor serves session mode on port 5432 and transaction mode on 6543 of the same host, so the
 * session pooler URL the deploy needs also names the transaction pooler the Edge Functions should use.
 */
export function transactionPoolerUrl(sessionUrl: URL): string | undefined {
  if (!sessionUrl.hostname.endsWith(".pooler.supabase.com")) return undefined;
  const url = new URL(sessionUrl);
  url.port = "6543";
  return url.toString();
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

/** DB_POOLER_URL as given, or the one the session pooler implies; never one on this machine. */
function poolerUrlFor(given: string | undefined, sessionUrl: URL): string | undefined {
  if (!given) return transactionPoolerUrl(sessionUrl);
  const url = URL.canParse(given) ? new URL(given) : undefined;
  if (!url || !/^postgres(ql)?:$/.test(url.protocol)) {
    throw new Error("DB_POOLER_URL must be a postgresql:// URL (the transaction pooler, port 6543)");
  }
  // `export $(npm run -s stack -- env)` leaves the local pooler's URL in the shell.
  if (LOOPBACK.test(url.hostname)) {
    throw new Error(
      `DB_POOLER_URL points at this machine (${url.host}), probably from the local stack's env: unset it, or set the project's transaction pooler`,
    );
  }
  return given;
}

export function edgeFunctions(dir = join(ROOT, "supabase", "functions")): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith("_") && !d.name.startsWith("."))
    .map((d) => d.name)
    .sort();
}

/** Creates or updates Vault secrets in one statement: `db query` sends a prepared statement, which takes no
 * second command. Values go in as plain quoted literals, as readDeployEnv admits none holding a quote. */
function upsertVaultSecrets(secrets: Record<string, string>): string {
  const rows = Object.entries(secrets)
    .map(([name, value]) => `('${name}', '${value}')`)
    .join(", ");
  return `do $$ declare s record; begin for s in select * from (values ${rows}) v(name, secret) loop perform vault.update_secret(id, s.secret) from vault.secrets where name = s.name; if not found then perform vault.create_secret(s.secret, s.name); end if; end loop; end $$`;
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

/** `--custom-domain <host>`: the project's custom domain, the only place its Edge Functions serve HTML. */
export function customDomain(argv: string[]): string | undefined {
  const i = argv.indexOf("--custom-domain");
  if (i < 0) return undefined;
  const host = argv[i + 1];
  if (!host || !/^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/i.test(host)) {
    throw new Error(`--custom-domain needs a host name such as api.example.com, got ${host ?? "nothing"}`);
  }
  return host;
}

export function plan(env: DeployEnv, skip: string[] = [], domain?: string): Step[] {
  const ref = env.SUPABASE_PROJECT_REF;
  const fnSecrets = [`WEBHOOK_SECRET=${env.WEBHOOK_SECRET}`];
  // Not SUPABASE_-prefixed: the platform reserves that prefix for what it injects.
  if (env.DB_POOLER_URL) fnSecrets.push(`DB_POOLER_URL=${env.DB_POOLER_URL}`);
  if (env.RESONATE_URL) fnSecrets.push(`RESONATE_URL=${env.RESONATE_URL}`);
  for (const [k, v] of Object.entries(env.embeddings)) fnSecrets.push(`${k}=${v}`);
  // The gallery's page renders through the custom domain; elsewhere it answers plain text and JSON.
  if (domain) fnSecrets.push("GALLERY_HTML=true");
  return [
    {
      title: "push the migrations (app tables, the resonate schema, triggers, cron jobs)",
      argv: [SUPABASE_CLI, "db", "push", "--db-url", env.DATABASE_URL, "--yes"],
      secrets: [env.DATABASE_URL],
    },
    {
      title: "store where the triggers post and the bearer they send in Vault",
      argv: [
        SUPABASE_CLI,
        "db",
        "query",
        "--db-url",
        env.DATABASE_URL,
        upsertVaultSecrets({
          functions_url: `https://${ref}.supabase.co/functions/v1`,
          webhook_secret: env.WEBHOOK_SECRET,
        }),
      ],
      secrets: [env.DATABASE_URL, env.WEBHOOK_SECRET],
    },
    {
      title: "set the Edge Functions' secrets",
      argv: [SUPABASE_CLI, "secrets", "set", "--project-ref", ref, ...fnSecrets],
      secrets: [
        env.WEBHOOK_SECRET,
        ...(env.DB_POOLER_URL ? [env.DB_POOLER_URL] : []),
        ...(env.RESONATE_URL ? [env.RESONATE_URL] : []),
        ...(env.embeddings.OPENAI_API_KEY ? [env.embeddings.OPENAI_API_KEY] : []),
      ],
    },
    ...edgeFunctions()
      .filter((name) => !skip.includes(name))
      .map((name) => ({
        title: `deploy the ${name} Edge Function`,
        // Bundled by the platform from the uploaded files, with or without Docker here: the shape
        // test/deploy/bundle.test.ts checks.
        argv: [SUPABASE_CLI, "functions", "deploy", name, "--project-ref", ref, "--use-api"],
        secrets: [],
      })),
  ];
}

/** An argument as a POSIX shell needs it; `*` stays bare because it only appears in masks. */
function shellWord(arg: string): string {
  if (/^[\w@%+=:,./*-]+$/.test(arg)) return arg;
  if (!arg.includes("'")) return `'${arg}'`;
  return `"${arg.replace(/["\\$`]/g, "\\$&")}"`;
}

export function render(step: Step): string {
  const masked = (arg: string) => step.secrets.reduce((a, s) => (s ? a.replaceAll(s, "***") : a), arg);
  return step.argv.map((arg) => shellWord(masked(arg))).join(" ");
}

function main(): void {
  const dryRun = process.argv.includes("--dry-run");
  const env = readDeployEnv(process.env);
  const skip = skippedFunctions(process.argv.slice(2));
  const domain = customDomain(process.argv.slice(2));
  const steps = plan(env, skip, domain);
  if (!dryRun && !existsSync(join(ROOT, SUPABASE_CLI))) {
    throw new Error(`${SUPABASE_CLI} is missing: run npm install (package.json pins the Supabase CLI)`);
  }
  if (!env.DB_POOLER_URL) {
    console.log(
      "# note: DATABASE_URL is not a *.pooler.supabase.com URL and DB_POOLER_URL is not set, so the Edge Functions\n" +
        "# will use the direct connection (SUPABASE_DB_URL); set DB_POOLER_URL to the transaction pooler (port 6543)",
    );
  }
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
  if (!skip.includes("gallery")) console.log(galleryNote(env.SUPABASE_PROJECT_REF, domain));
  console.log(`
# then run the worker where it can reach the database, with DATABASE_URL (the same session pooler URL),
# SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY and your provider settings in .env (see docs/deploy.md):
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
