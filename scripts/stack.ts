// `npm run stack -- up | down | status | env | reset | reload | stop <process>`: the local stand-in for
// `supabase start`.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { FUNCTIONS_URL, stackEnv } from "./stack/env.ts";
import {
  DB_PORT,
  DENO_BIN,
  FUNCTIONS_PORT,
  HOST,
  NODE_BIN,
  PG_HOME,
  PGDATA,
  POOLER_PORT,
  ROOT,
  STACK_DIR,
  STORAGE_DIR,
  WORKER_HEALTH_PORT,
} from "./stack/layout.ts";
import { applyMigrations } from "./stack/migrate.ts";
import { applyPlatform, installNetExtensionFiles } from "./stack/platform.ts";
import { poolerCommand, poolerHealthy, writePoolerConfig } from "./stack/pooler.ts";
import {
  ADMIN_DB_URL,
  DB_URL,
  ensureCluster,
  isAccepting,
  postmasterPid,
  restartPostgres,
  startPostgres,
  stopPostgres,
  withAdmin,
  withClient,
} from "./stack/postgres.ts";
import { runningPid, startDetached, stopProcess, waitFor } from "./stack/processes.ts";

const say = (msg: string) => console.error(`stack: ${msg}`);

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

const functionsHealthy = () => httpOk(`${FUNCTIONS_URL}/health`);

async function storeVaultSecrets(env: Record<string, string>): Promise<void> {
  // The trigger path reads where to post and which bearer to send from Vault, as it would on the
  // platform (where `scripts/deploy` stores the same names).
  const secrets: [string, string][] = [
    ["functions_url", env.FUNCTIONS_URL!],
    ["webhook_secret", env.WEBHOOK_SECRET!],
  ];
  await withClient(async (c) => {
    for (const [name, value] of secrets) {
      await c.query(
        `select vault.create_secret($1, $2) where not exists (select from vault.secrets where name = $2)`,
        [value, name],
      );
      await c.query(
        `select vault.update_secret(id, $1) from vault.secrets where name = $2 and secret <> $1`,
        [value, name],
      );
    }
  });
}

export async function up(): Promise<void> {
  const started = Date.now();
  execFileSync("bash", [join(ROOT, "scripts/stack/install-system.sh")], { stdio: "inherit" });
  installNetExtensionFiles();
  const cluster = ensureCluster();
  if (cluster.removedStale) say(`removed the cluster an earlier clone at this path left in ${PG_HOME}`);
  if (cluster.created) say(`created a Postgres cluster in ${PGDATA}`);
  if (postmasterPid() === undefined) {
    say(`starting Postgres on 127.0.0.1:${DB_PORT}`);
    startPostgres();
  } else if (cluster.settingsChanged) {
    say("Postgres settings changed; restarting Postgres");
    restartPostgres();
  }
  await waitFor("Postgres", isAccepting);
  const env = stackEnv();
  // What the platform installs before any migration, as its own superuser; then the migrations, as
  // postgres, through the Supabase CLI.
  await withAdmin(async (c) => {
    // One `up` at a time applies files: two concurrent pushes of a new file would both run it.
    await c.query("select pg_advisory_lock(hashtext('stack up'))");
    await applyPlatform(c);
    const applied = await applyMigrations(DB_URL);
    if (applied.length) say(`applied migrations: ${applied.join(", ")}`);
  });
  await storeVaultSecrets(env);

  const childEnv = { ...process.env, ...env };
  const pooler = writePoolerConfig();
  if (pooler.changed && (await stopProcess("pooler"))) say("pooler settings changed; restarting the pooler");
  if (runningPid("pooler") === undefined) {
    const [cmd, args] = poolerCommand(pooler.ini);
    startDetached("pooler", cmd, args, childEnv);
  }
  if (runningPid("net-dispatcher") === undefined) {
    // pg_net's worker is the platform's own: it reads the queue as the superuser.
    startDetached("net-dispatcher", NODE_BIN, [join(ROOT, "scripts/stack/net-dispatcher.ts")], {
      ...childEnv,
      DATABASE_URL: ADMIN_DB_URL,
    });
  }
  await waitFor(`the pooler on ${HOST}:${POOLER_PORT}`, poolerHealthy);
  if (runningPid("functions") === undefined) {
    // A server that was just told to stop (a concurrent `reload`) may answer for a moment longer.
    const deadline = Date.now() + 10_000;
    while ((await functionsHealthy()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    if (await functionsHealthy()) {
      throw new Error(
        `port ${FUNCTIONS_PORT} already answers but not from this stack; stop that server first`,
      );
    }
    startDetached(
      "functions",
      DENO_BIN,
      ["run", "--allow-all", "--no-prompt", join(ROOT, "scripts/stack/functions-server.ts")],
      { ...childEnv, DENO_NO_UPDATE_CHECK: "1" },
    );
  }
  await waitFor("the Edge Functions server (health)", functionsHealthy, 90_000);
  say(`up in ${Date.now() - started} ms`);
}

export async function down(): Promise<void> {
  for (const name of ["worker", "functions", "net-dispatcher", "pooler"]) {
    if (await stopProcess(name)) say(`stopped ${name}`);
  }
  if (postmasterPid() !== undefined) {
    stopPostgres();
    say("stopped Postgres");
  }
}

async function status(): Promise<boolean> {
  const pgPid = postmasterPid();
  const rows: [string, string, string, string][] = [
    [
      "postgres",
      pgPid ? String(pgPid) : "-",
      `127.0.0.1:${DB_PORT}`,
      (await isAccepting()) ? "healthy" : "down",
    ],
  ];
  const fnPid = runningPid("functions");
  rows.push([
    "functions",
    fnPid ? String(fnPid) : "-",
    `127.0.0.1:${FUNCTIONS_PORT}`,
    (await functionsHealthy()) ? "healthy" : "down",
  ]);
  const poolerPid = runningPid("pooler");
  rows.push([
    "pooler",
    poolerPid ? String(poolerPid) : "-",
    `${HOST}:${POOLER_PORT}`,
    (await poolerHealthy()) ? "healthy" : "down",
  ]);
  const netPid = runningPid("net-dispatcher");
  rows.push(["net-dispatcher", netPid ? String(netPid) : "-", "-", netPid ? "running" : "down"]);
  const workerPid = runningPid("worker");
  const workerHealthy =
    workerPid !== undefined && (await httpOk(`http://${HOST}:${WORKER_HEALTH_PORT}/health`));
  rows.push([
    "worker",
    workerPid ? String(workerPid) : "-",
    `${HOST}:${WORKER_HEALTH_PORT}`,
    workerPid ? (workerHealthy ? "healthy" : "unhealthy") : "not started",
  ]);
  const widths = [16, 8, 18, 10];
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join(" ")
      .trimEnd();
  console.log(line(["PROCESS", "PID", "ADDRESS", "STATE"]));
  for (const r of rows) console.log(line(r));
  return rows.every((r) => r[3] === "healthy" || r[3] === "running" || r[3] === "not started");
}

async function main(): Promise<void> {
  const cmd = process.argv[2] ?? "status";
  switch (cmd) {
    case "up":
      await up();
      break;
    case "down":
      await down();
      break;
    case "status":
      process.exitCode = (await status()) ? 0 : 1;
      break;
    case "reload":
      // Restarts the functions server and dispatcher, e.g. after adding an Edge Function.
      await stopProcess("functions");
      await stopProcess("net-dispatcher");
      await up();
      break;
    case "env":
      for (const [k, v] of Object.entries(stackEnv())) console.log(`${k}=${v}`);
      break;
    case "reset": {
      const hadWorker = runningPid("worker") !== undefined;
      await down();
      rmSync(PG_HOME, { recursive: true, force: true });
      rmSync(join(STACK_DIR, "pgdata"), { recursive: true, force: true });
      rmSync(STORAGE_DIR, { recursive: true, force: true });
      await up();
      if (hadWorker)
        console.log("stack: the worker was stopped with the old database; `npm start` starts it again");
      break;
    }
    case "stop": {
      // One process and its supervisor, which would otherwise restart it: `stop worker`.
      const name = process.argv[3];
      if (!name) {
        console.error("usage: npm run stack -- stop <worker | functions | net-dispatcher | pooler>");
        process.exitCode = 2;
      } else if (await stopProcess(name)) console.log(`stack: stopped ${name}`);
      else console.log(`stack: ${name} was not running`);
      break;
    }
    default:
      console.error("usage: npm run stack -- up | down | status | env | reset | reload | stop <process>");
      process.exitCode = 2;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(`stack: ${(err as Error).message}`);
    process.exit(1);
  });
}
