// Applies the platform stand-ins (roles, Vault, Storage's schema, the extensions, pg_net's files) that a hosted Supabase
// project provides. Only the local stack calls this; migrations never contain these pieces.
import { copyFileSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import { ROOT } from "./layout.ts";

export const PLATFORM_DIR = join(ROOT, "sql", "platform");
const EXTENSION_DIR = "/usr/share/postgresql/15/extension";

/** Installs the pg_net stand-in's control and script files so `create extension pg_net` works. */
export function installNetExtensionFiles(): void {
  const src = join(PLATFORM_DIR, "pg_net");
  for (const f of readdirSync(src)) {
    const dest = join(EXTENSION_DIR, f);
    const content = readFileSync(join(src, f), "utf8");
    if (!existsSync(dest) || readFileSync(dest, "utf8") !== content) copyFileSync(join(src, f), dest);
  }
}

/** Applies every sql/platform file in order; `client` must be connected as supabase_admin. */
export async function applyPlatform(client: pg.Client): Promise<void> {
  for (const f of readdirSync(PLATFORM_DIR)
    .filter((f) => f.endsWith(".sql"))
    .sort()) {
    await client.query(readFileSync(join(PLATFORM_DIR, f), "utf8"));
  }
}
