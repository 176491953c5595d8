// The local Postgres 15 cluster: created once in PG_HOME, run as the `postgres` OS user (Postgres
// refuses to run as root), listening on 127.0.0.1:54322 like the Supabase CLI's database.
//
// Roles as on a hosted project: the cluster's bootstrap superuser is `supabase_admin`; `postgres`, the
// role migrations, the worker, the functions and the tests' application traffic use, is NOT a
// superuser (sql/platform/01-roles.sql gives it the platform's attributes). Only what the platform
// keeps to itself (its own extensions and stand-ins, throw-away databases, restarts) uses ADMIN_DB_URL.
import { execFile, execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  appendFileSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import {
  DB_PORT,
  HOST,
  LOG_DIR,
  PG_BIN,
  PG_HOME,
  PG_LOG,
  PG_SOCKET_DIR,
  PGDATA,
  STACK_DIR,
} from "./layout.ts";

export const ADMIN_ROLE = "supabase_admin";
export const DB_URL = `postgresql://postgres:postgres@${HOST}:${DB_PORT}/postgres`;
export const ADMIN_DB_URL = `postgresql://${ADMIN_ROLE}:postgres@${HOST}:${DB_PORT}/postgres`;

const isRoot = process.getuid?.() === 0;

export function postgresUid(): { uid: number; gid: number } {
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  return { uid, gid };
}

/** The command line that runs a Postgres binary as the postgres OS user when we are root. */
function postgresArgv(bin: string, args: string[]): string[] {
  const cmd = join(PG_BIN, bin);
  return isRoot ? ["runuser", "-u", "postgres", "--", cmd, ...args] : [cmd, ...args];
}

/** Runs a Postgres binary as the postgres OS user when we are root, as ourselves otherwise. */
function asPostgres(bin: string, args: string[]): string {
  const argv = postgresArgv(bin, args);
  // cwd "/": the caller's directory may be one `postgres` cannot enter, and initdb and pg_ctl chdir back.
  return execFileSync(argv[0]!, argv.slice(1), { cwd: "/", stdio: ["ignore", "pipe", "pipe"] }).toString();
}

function ownedDir(path: string): void {
  mkdirSync(path, { recursive: true });
  if (isRoot) {
    const { uid, gid } = postgresUid();
    chownSync(path, uid, gid);
  }
}

// Settings that differ from initdb's defaults. fsync stays on: the durability tests kill processes
// and must see what a real deployment would keep.
const CONF = `
listen_addresses = '${HOST}'
port = ${DB_PORT}
unix_socket_directories = '${PG_SOCKET_DIR}'
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
# Jobs run in background workers instead of libpq connections, which would need a password over TCP.
cron.use_background_workers = on
max_worker_processes = 32
timezone = 'UTC'
log_timezone = 'UTC'
# Near a small hosted instance's limit, so a connection leak fails here as it would there.
max_connections = 100
shared_buffers = '512MB'
max_wal_size = '4GB'
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
`;

// PG_HOME is named by the clone's path, so a clone made where an earlier one was deleted finds that
// clone's cluster, with its data and its migration history (CI clones to the same path every time).
// The same random id in .stack and PG_HOME says which clone made the cluster.
const CLONE_MARK = join(STACK_DIR, "cluster-id");
const CLUSTER_MARK = join(PG_HOME, "cluster-id");

function readMark(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** Removes a cluster an earlier clone at this path left behind; marks the one this clone uses. */
function claimCluster(): { removedStale: boolean } {
  const ours = readMark(CLONE_MARK);
  const theirs = readMark(CLUSTER_MARK);
  const hasCluster = existsSync(join(PGDATA, "PG_VERSION"));
  // Stacks made before the marks existed: this clone's .stack already links to the cluster.
  const linkedBefore =
    ours === undefined && theirs === undefined && isLinkTo(join(STACK_DIR, "pgdata"), PGDATA);
  let removedStale = false;
  if (hasCluster && !linkedBefore && (ours === undefined || ours !== theirs)) {
    if (postmasterPid() !== undefined) asPostgres("pg_ctl", ["-D", PGDATA, "-m", "immediate", "-w", "stop"]);
    rmSync(PG_HOME, { recursive: true, force: true });
    removedStale = true;
  }
  const mark = (hasCluster && !removedStale && (ours ?? theirs)) || randomUUID();
  mkdirSync(STACK_DIR, { recursive: true });
  ownedDir(PG_HOME);
  if (ours !== mark) writeFileSync(CLONE_MARK, `${mark}\n`);
  if (readMark(CLUSTER_MARK) !== mark) writeFileSync(CLUSTER_MARK, `${mark}\n`);
  return { removedStale };
}

function isLinkTo(link: string, target: string): boolean {
  try {
    return lstatSync(link).isSymbolicLink() && readlinkSync(link) === target;
  } catch {
    return false;
  }
}

/** Creates the cluster if missing and keeps its settings current. Returns what it did. */
export function ensureCluster(): { created: boolean; settingsChanged: boolean; removedStale: boolean } {
  const { removedStale } = claimCluster();
  mkdirSync(LOG_DIR, { recursive: true });
  ownedDir(PG_SOCKET_DIR);
  linkInStack(join(STACK_DIR, "pgdata"), PGDATA);
  linkInStack(join(LOG_DIR, "postgres.log"), PG_LOG);
  const confFile = join(PGDATA, "conf.d.stack.conf");
  let created = false;
  if (!existsSync(join(PGDATA, "PG_VERSION"))) {
    ownedDir(PGDATA);
    const pwfile = join(PG_SOCKET_DIR, "initdb.pw");
    writeFileSync(pwfile, "postgres\n", { mode: 0o644 });
    asPostgres("initdb", [
      "-D",
      PGDATA,
      "-U",
      ADMIN_ROLE,
      "-E",
      "UTF8",
      "--locale=C.UTF-8",
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      `--pwfile=${pwfile}`,
    ]);
    appendFileSync(join(PGDATA, "postgresql.conf"), "\ninclude 'conf.d.stack.conf'\n");
    created = true;
  }
  const settingsChanged = !existsSync(confFile) || readFileSync(confFile, "utf8") !== CONF;
  if (settingsChanged) {
    writeFileSync(confFile, CONF);
    if (isRoot) {
      const { uid, gid } = postgresUid();
      chownSync(confFile, uid, gid);
    }
  }
  return { created, settingsChanged: settingsChanged && !created, removedStale };
}

/** Points a path under .stack at the real file in PG_HOME, leaving anything else there alone. */
function linkInStack(link: string, target: string): void {
  if (link === target) return;
  let stat: ReturnType<typeof lstatSync> | undefined;
  try {
    stat = lstatSync(link);
  } catch {
    stat = undefined;
  }
  if (stat && !stat.isSymbolicLink()) return;
  if (stat) rmSync(link);
  symlinkSync(target, link);
}

/** The platform's side of the cluster: answers as soon as Postgres accepts, before any app role exists. */
export async function isAccepting(): Promise<boolean> {
  const client = new pg.Client({ connectionString: ADMIN_DB_URL, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export function postmasterPid(): number | undefined {
  try {
    const out = asPostgres("pg_ctl", ["-D", PGDATA, "status"]);
    const m = /PID: (\d+)/.exec(out);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function startPostgres(): void {
  asPostgres("pg_ctl", ["-D", PGDATA, "-l", PG_LOG, "-w", "-t", "60", "start"]);
}

export function restartPostgres(): void {
  asPostgres("pg_ctl", ["-D", PGDATA, "-l", PG_LOG, "-m", "fast", "-w", "-t", "60", "restart"]);
}

/** A crash and a start: stop in immediate mode (no checkpoint; unlogged tables come back empty), then
 * start, without blocking the caller's event loop (the soak keeps serving while Postgres is away). */
export async function crashRestartPostgres(): Promise<void> {
  const run = (args: string[]) => {
    const argv = postgresArgv("pg_ctl", args);
    return promisify(execFile)(argv[0]!, argv.slice(1), { cwd: "/" });
  };
  await run(["-D", PGDATA, "-m", "immediate", "-w", "stop"]);
  await run(["-D", PGDATA, "-l", PG_LOG, "-w", "-t", "60", "start"]);
}

export function stopPostgres(mode: "fast" | "immediate" = "fast"): void {
  if (postmasterPid() === undefined) return;
  asPostgres("pg_ctl", ["-D", PGDATA, "-m", mode, "-w", "stop"]);
}

/** A URL for another database of the cluster, as `postgres` or (admin) as `supabase_admin`. */
export function databaseUrl(name: string, admin = false): string {
  const u = new URL(admin ? ADMIN_DB_URL : DB_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Runs fn as supabase_admin: for what the platform does, never for application traffic. */
export function withAdmin<T>(fn: (c: pg.Client) => Promise<T>, database = "postgres"): Promise<T> {
  return withClient(fn, databaseUrl(database, true));
}

export async function withClient<T>(fn: (c: pg.Client) => Promise<T>, url = DB_URL): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
