// What the import steps need from the worker: a pool, a logger and the import settings.
import type pg from "pg";
import type { Logger } from "../shared/log.ts";

export interface ImportDeps {
  pool: pg.Pool;
  log: Logger;
  fileRoot: string;
  /** LOCAL_MODE: allow sources on loopback/private addresses (the local stack serves files there). */
  allowPrivateNetwork: boolean;
  /**
   * Commit staging and batch writes without waiting for their WAL flush. Sound only when the durable
   * store is this same database: the step's result is then recorded by a later synchronous commit,
   * which flushes the WAL up to and including these writes. With a remote Resonate server it is off.
   */
  asyncCommit: boolean;
}
