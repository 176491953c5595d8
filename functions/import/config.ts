// The import workload's settings, read from the environment and checked when the worker starts, like the
// shared config: where `file://` sources may be read from, and how a failing batch retries.
import { int, str } from "../shared/config.ts";

export interface ImportConfig {
  /** The only folder `file://` import sources may be read from. */
  fileRoot: string;
  /** Retries of a failing import batch after its first attempt (exponential backoff). */
  batchRetries: number;
  /** First retry delay of an import batch, ms; doubles per attempt. */
  batchRetryDelayMs: number;
}

export function loadImportConfig(): ImportConfig {
  return {
    fileRoot: str("IMPORT_FILE_ROOT", ".stack/imports"),
    batchRetries: int("IMPORT_BATCH_RETRIES", 5, 0, 100),
    batchRetryDelayMs: int("IMPORT_BATCH_RETRY_DELAY_MS", 1_000, 1, 600_000),
  };
}
