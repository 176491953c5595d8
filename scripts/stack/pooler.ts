// The transaction pooler: pgbouncer in transaction mode on 127.0.0.1:54329 (the Supabase CLI's local
// pooler port), standing in for Supavisor's transaction mode (port 6543 on a hosted project). Its pool
// is as small as a small hosted project's, so code that holds server connections, or relies on session
// state (LISTEN, session advisory locks, SET, named prepared statements), fails here as it would there.
import { chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { DB_PORT, HOST, POOLER_DIR, POOLER_PORT } from "./layout.ts";
import { postgresUid } from "./postgres.ts";

export const POOLER_BIN = "/usr/sbin/pgbouncer";
export const POOLER_URL = `postgresql://postgres:postgres@${HOST}:${POOLER_PORT}/postgres`;
/** Server connections per (database, user), Supavisor's default for the smallest compute sizes. */
export const POOL_SIZE = 15;

const INI = join(POOLER_DIR, "pgbouncer.ini");
const USERLIST = join(POOLER_DIR, "userlist.txt");

const isRoot = process.getuid?.() === 0;

function config(): string {
  return `[databases]
* = host=${HOST} port=${DB_PORT}

[pgbouncer]
listen_addr = ${HOST}
listen_port = ${POOLER_PORT}
unix_socket_dir =
pool_mode = transaction
default_pool_size = ${POOL_SIZE}
max_client_conn = 200
auth_type = scram-sha-256
auth_file = ${USERLIST}
; SHOW POOLS / SHOW CONFIG on the console (database "pgbouncer"), read-only.
stats_users = postgres
; node-postgres sends these at connect; pgbouncer would otherwise refuse the connection.
ignore_startup_parameters = extra_float_digits,options,application_name
server_lifetime = 3600
server_idle_timeout = 60
`;
}

/** Writes the pooler's files (readable by the postgres OS user, which runs it) and says if they changed. */
export function writePoolerConfig(): { ini: string; changed: boolean } {
  mkdirSync(POOLER_DIR, { recursive: true });
  // The local password, as in DB_URL; pgbouncer derives the SCRAM exchange from it.
  const files: [string, string][] = [
    [INI, config()],
    [USERLIST, `"postgres" "postgres"\n`],
  ];
  let changed = false;
  for (const [file, text] of files) {
    if (!existsSync(file) || readFileSync(file, "utf8") !== text) {
      writeFileSync(file, text, { mode: 0o600 });
      changed = true;
    }
  }
  if (isRoot) {
    const { uid, gid } = postgresUid();
    for (const p of [POOLER_DIR, INI, USERLIST]) chownSync(p, uid, gid);
  }
  return { ini: INI, changed };
}

/** The command line that runs the pooler in the foreground, as the postgres OS user when we are root. */
export function poolerCommand(ini: string): [string, string[]] {
  return isRoot ? ["runuser", ["-u", "postgres", "--", POOLER_BIN, ini]] : [POOLER_BIN, [ini]];
}

export async function poolerHealthy(): Promise<boolean> {
  const client = new pg.Client({ connectionString: POOLER_URL, connectionTimeoutMillis: 1000 });
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
