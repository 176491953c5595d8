// The one typed view of the environment. Every process (worker, Edge Functions, scripts) reads its
// settings here; a missing or malformed variable stops it at start with a message naming the variable.
// `.env.example` documents each of these with its default.
import { readEnv } from "./env.ts";

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A string variable, required unless it has a fallback; exported like `int`. */
export function str(name: string, fallback?: string): string {
  const v = readEnv(name);
  if (v !== undefined && v !== "") return v;
  if (fallback !== undefined) return fallback;
  throw new ConfigError(`${name} is required but not set (see .env.example)`);
}

/** An integer variable within bounds; exported so each workload's settings read the same way. */
export function int(name: string, fallback: number, min: number, max: number): number {
  const raw = readEnv(name);
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** LOCAL_MODE: the local stack, where loopback and private addresses may be fetched. */
export function localModeFromEnv(): boolean {
  return bool("LOCAL_MODE", false);
}

function bool(name: string, fallback: boolean): boolean {
  const raw = readEnv(name);
  if (raw === undefined || raw === "") return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(raw)}`);
}

function url(name: string, fallback?: string): string {
  const v = str(name, fallback);
  try {
    new URL(v);
  } catch {
    // Not quoted: a database URL carries its password, and an Edge Function answers with this message.
    throw new ConfigError(
      `${name} must be a URL like scheme://user:password@host:port/path (its value is not shown: it may hold a password)`,
    );
  }
  return v;
}

function optionalUrl(name: string): string | undefined {
  return readEnv(name) ? url(name) : undefined;
}

export interface ResonateConfig {
  /** When set, a Resonate Server over HTTP is the durable store instead of the app database. */
  serverUrl: string | undefined;
  group: string;
  /** Task lease, ms; the SDK heartbeats at half of it. */
  ttlMs: number;
  /** The store network's delivery tick, ms: timers, dead peers and messages without a notification. */
  tickMs: number;
  /** A step running longer than this, ms, is recorded as started while it runs; a shorter one is
   *  recorded once, with its result. A finished branch's result waits at most this long for its
   *  siblings' (functions/shared/store/steps.ts). Default 100. */
  stepStartedAfterMs?: number;
}

export interface AppConfig {
  databaseUrl: string;
  /** The transaction pooler (DB_POOLER_URL), which Edge Functions use when it is set. */
  poolerUrl: string | undefined;
  supabaseUrl: string;
  functionsUrl: string;
  serviceRoleKey: string | undefined;
  webhookSecret: string | undefined;
  localMode: boolean;
  resonate: ResonateConfig;
  workerConcurrency: number;
  shutdownGraceMs: number;
  /** Port of the worker's health check on 127.0.0.1; unset means no health server. */
  workerHealthPort: number | undefined;
}

export function loadConfig(): AppConfig {
  const databaseUrl = url(
    "DATABASE_URL",
    readEnv("SUPABASE_DB_URL") ?? "postgresql://postgres:postgres@127.0.0.1:54322/postgres",
  );
  const supabaseUrl = url("SUPABASE_URL", "http://127.0.0.1:54321");
  return {
    databaseUrl,
    poolerUrl: optionalUrl("DB_POOLER_URL"),
    supabaseUrl,
    functionsUrl: url("FUNCTIONS_URL", `${supabaseUrl}/functions/v1`),
    serviceRoleKey: readEnv("SUPABASE_SERVICE_ROLE_KEY") || undefined,
    webhookSecret: readEnv("WEBHOOK_SECRET") || undefined,
    localMode: localModeFromEnv(),
    resonate: {
      serverUrl: optionalUrl("RESONATE_URL"),
      group: str("RESONATE_GROUP", "workers"),
      ttlMs: int("RESONATE_TTL_MS", 60_000, 1_000, 3_600_000),
      tickMs: int("RESONATE_TICK_MS", 250, 10, 60_000),
      stepStartedAfterMs: int("RESONATE_STEP_STARTED_AFTER_MS", 100, 0, 60_000),
    },
    workerConcurrency: int("WORKER_CONCURRENCY", 8, 1, 1024),
    shutdownGraceMs: int("WORKER_SHUTDOWN_GRACE_MS", 15_000, 0, 600_000),
    workerHealthPort: readEnv("WORKER_HEALTH_PORT") ? int("WORKER_HEALTH_PORT", 0, 1, 65_535) : undefined,
  };
}
