// Where the local stack keeps its state and which ports it uses. Everything lives under `.stack/`
// (git-ignored) so `npm run stack -- reset` or deleting the folder starts from nothing.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const STACK_DIR = join(ROOT, ".stack");
export const PGDATA = join(STACK_DIR, "pgdata");
export const PG_SOCKET_DIR = join(STACK_DIR, "run");
export const LOG_DIR = join(STACK_DIR, "logs");
export const PID_DIR = join(STACK_DIR, "pids");
export const STORAGE_DIR = join(STACK_DIR, "storage");
export const SECRETS_FILE = join(STACK_DIR, "secrets.env");

export const PG_BIN = "/usr/lib/postgresql/15/bin";
export const DB_PORT = 54322;
export const FUNCTIONS_PORT = 54321;
export const WORKER_HEALTH_PORT = 54330;
export const HOST = "127.0.0.1";

export const NODE_BIN = join(ROOT, "node_modules", ".bin", "node");
export const DENO_BIN = join(ROOT, "node_modules", ".bin", "deno");
