// Per-stack secrets, generated once on first `up` and kept in .stack/secrets.env. Nothing secret is
// committed: a fresh clone gets fresh keys.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { SECRETS_FILE } from "./layout.ts";

export interface StackSecrets {
  SUPABASE_SERVICE_ROLE_KEY: string;
  SUPABASE_ANON_KEY: string;
  WEBHOOK_SECRET: string;
}

const NAMES: (keyof StackSecrets)[] = ["SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_ANON_KEY", "WEBHOOK_SECRET"];

export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

export function loadOrCreateSecrets(): StackSecrets {
  const existing = existsSync(SECRETS_FILE) ? parseEnvFile(readFileSync(SECRETS_FILE, "utf8")) : {};
  const secrets = {} as StackSecrets;
  let changed = false;
  for (const name of NAMES) {
    const value = existing[name];
    if (value) {
      secrets[name] = value;
    } else {
      secrets[name] = `local-${name.toLowerCase().replaceAll("_", "-")}-${randomBytes(18).toString("hex")}`;
      changed = true;
    }
  }
  if (changed) {
    mkdirSync(dirname(SECRETS_FILE), { recursive: true });
    writeFileSync(SECRETS_FILE, `${NAMES.map((n) => `${n}=${secrets[n]}`).join("\n")}\n`, { mode: 0o600 });
  }
  return secrets;
}
