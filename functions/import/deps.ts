// What the import steps need from the worker: a pool, a logger and the import settings.
import type pg from "pg";
import type { Logger } from "../shared/log.ts";

export interface ImportDeps {
  pool: pg.Pool;
  log: Logger;
  fileRoot: string;
  /** LOCAL_MODE: allow sources on loopback/private addresses (the local stack serves files there). */
  allowPrivateNetwork: boolean;
}
