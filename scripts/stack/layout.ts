// Where the local stack keeps its state and which ports it uses. Everything the stack owns lives under
// `.stack/` (git-ignored), except what the `postgres` OS user must read or write (the cluster, its
// socket and log, the pooler's files): that lives in PG_HOME, a folder of its own below
// /var/lib/postgresql, because a clone may sit where `postgres` cannot enter (/root is mode 700).
// `.stack/pgdata` and `.stack/logs/postgres.log` are symlinks to it, so the usual paths still work.
import { createHash } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const STACK_DIR = join(ROOT, ".stack");
export const LOG_DIR = join(STACK_DIR, "logs");
export const PID_DIR = join(STACK_DIR, "pids");
export const STORAGE_DIR = join(STACK_DIR, "storage");
export const SECRETS_FILE = join(STACK_DIR, "secrets.env");

const isRoot = process.getuid?.() === 0;
// One folder per clone (named by its path), so two clones never share a cluster. Without root the
// stack runs Postgres as the current user, who can always use the clone itself.
const cloneId = `${basename(ROOT).replace(/[^A-Za-z0-9_.-]/g, "_")}-${createHash("sha256").update(ROOT).digest("hex").slice(0, 10)}`;
export const PG_HOME = isRoot
  ? join("/var/lib/postgresql/durable-pipelines", cloneId)
  : join(STACK_DIR, "pg");
export const PGDATA = join(PG_HOME, "pgdata");
export const PG_SOCKET_DIR = join(PG_HOME, "run");
export const PG_LOG = join(PG_HOME, "postgres.log");
export const POOLER_DIR = join(PG_HOME, "pgbouncer");

export const PG_BIN = "/usr/lib/postgresql/15/bin";
// The Supabase CLI's ports. STACK_PORT_OFFSET moves them all, so a second clone (a git worktree, a soak
// run) can have a stack of its own beside the first; its cluster is its own anyway (one per clone).
const offset = Number(process.env.STACK_PORT_OFFSET ?? 0);
if (!Number.isInteger(offset) || offset < 0 || offset > 10_000) {
  throw new Error(
    `STACK_PORT_OFFSET must be an integer from 0 to 10000, got ${process.env.STACK_PORT_OFFSET}`,
  );
}
export const DB_PORT = 54322 + offset;
export const FUNCTIONS_PORT = 54321 + offset;
// The Supabase CLI's local pooler port (Supavisor's transaction mode is 6543 on a hosted project).
export const POOLER_PORT = 54329 + offset;
export const WORKER_HEALTH_PORT = 54330 + offset;
export const HOST = "127.0.0.1";

export const NODE_BIN = join(ROOT, "node_modules", ".bin", "node");
export const DENO_BIN = join(ROOT, "node_modules", ".bin", "deno");
export const SUPABASE_BIN = join(ROOT, "node_modules", ".bin", "supabase");
