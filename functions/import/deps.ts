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
   * which flushes the WAL up to and including these writes. If Postgres dies first, it comes back with
   * a prefix of what was committed (WAL is replayed in order): batches lost with their done marks, and
   * the step unrecorded, so it runs again from the first batch not done. With a remote Resonate server
   * it is off.
   */
  asyncCommit: boolean;
}
