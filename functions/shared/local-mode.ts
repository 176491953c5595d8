// LOCAL_MODE for the workers' fetches: the local stack serves test and demo sources from loopback, so
// loopback is allowed there, but not on the ports of the stack's own services. Those ports come from
// the same environment the stack gives the worker, so a moved port stays refused.
import { localModeFromEnv } from "./config.ts";
import { readEnv } from "./env.ts";
import type { LocalAccess } from "./net-guard.ts";

/** Variables holding the URL of a service of the stack (or of the deployment's own backends). */
const SERVICE_URLS = [
  "SUPABASE_URL",
  "FUNCTIONS_URL",
  "DATABASE_URL",
  "SUPABASE_DB_URL",
  "DB_POOLER_URL",
  "RESONATE_URL",
];
const DEFAULT_PORTS: Record<string, number> = {
  "http:": 80,
  "https:": 443,
  "postgres:": 5432,
  "postgresql:": 5432,
};

/** The ports the stack's services listen on, read from these variables. */
export function servicePorts(env: (name: string) => string | undefined): Set<number> {
  const ports = new Set<number>();
  for (const name of SERVICE_URLS) {
    const value = env(name);
    if (!value) continue;
    try {
      const u = new URL(value);
      const port = u.port ? Number(u.port) : DEFAULT_PORTS[u.protocol];
      if (port) ports.add(port);
    } catch {
      // Not a URL: the variable's own validation reports it.
    }
  }
  const health = Number(env("WORKER_HEALTH_PORT"));
  if (Number.isInteger(health) && health > 0) ports.add(health);
  return ports;
}

/** What the worker may reach besides public addresses: nothing, or LOCAL_MODE's loopback allowance. */
export function localAccessFromEnv(): LocalAccess | undefined {
  return localModeFromEnv() ? { blockedPorts: servicePorts(readEnv) } : undefined;
}
