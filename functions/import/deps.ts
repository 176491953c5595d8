// What the import steps need from the worker: a pool, a logger and the import settings.
import type pg from "pg";
import type { Logger } from "../shared/log.ts";
import type { LocalAccess } from "../shared/net-guard.ts";

export interface ImportDeps {
  pool: pg.Pool;
  log: Logger;
  fileRoot: string;
  /** LOCAL_MODE: sources on loopback are allowed (the local stack serves files there), except the
   *  stack's own services. Undefined: public addresses only. */
  local: LocalAccess | undefined;
  /**
   * Commit staging and batch writes without waiting for their WAL flush. Sound only when the durable
   * store is this same database: the step's result is then recorded by a later synchronous commit,
   * which flushes the WAL up to and including these writes. With a remote Resonate server it is off.
   */
  asyncCommit: boolean;
}
