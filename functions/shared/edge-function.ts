// The real-world half of every Edge Function: its settings from the config module, and its database
// through edge-db.ts (the isolate's one connection, through the pooler when DB_POOLER_URL is set, with
// the listener that forgets it when it dies). A function's index.ts builds its dependencies from this
// context and serves an endpoint (endpoint.ts) with them; nothing else in a function reads the
// environment or opens a connection.
import type pg from "pg";
import { type AppConfig, loadConfig } from "./config.ts";
import { edgeDatabaseUrl, withConnection } from "./edge-db.ts";
import { lazy } from "./endpoint.ts";

export interface EdgeContext {
  cfg: AppConfig;
  /** Runs fn on the isolate's connection; fn may run twice (see withConnection): single statements. */
  db<T>(fn: (c: pg.Client) => Promise<T>): Promise<T>;
}

export function edgeContext(): EdgeContext {
  const cfg = loadConfig();
  const url = edgeDatabaseUrl(cfg);
  return { cfg, db: (fn) => withConnection(url, fn) };
}

/** A function's dependencies, built from its context on the first request (and again after a failure,
 *  so a secret set later is picked up without a redeploy). */
export function edgeDeps<D>(build: (ctx: EdgeContext) => D | Promise<D>): () => Promise<D> {
  return lazy(() => build(edgeContext()));
}
