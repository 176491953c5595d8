// Samples once a second what the report's peaks come from: the database's client connections (every
// process's, the stack's own included) and each worker process's memory. A worker that is killed takes
// its peak with it, so its last sample (VmHWM, the kernel's own peak) is what counts for it.
import type pg from "pg";
import { memoryKiB } from "./procs.ts";
import type { SoakWorker } from "./workers.ts";

export interface Peaks {
  connections: number;
  maxConnections: number;
  /** Peak resident memory of any worker process, KiB. */
  workerRssKiB: number;
  samples: number;
}

export interface Monitor {
  peaks: Peaks;
  stop(): void;
}

export function startMonitor(db: pg.Pool, workers: SoakWorker[]): Monitor {
  const peaks: Peaks = { connections: 0, maxConnections: 0, workerRssKiB: 0, samples: 0 };
  let busy = false;
  const sample = async () => {
    if (busy) return;
    busy = true;
    try {
      for (const w of workers) {
        const pid = w.pid();
        const mem = pid === undefined ? undefined : memoryKiB(pid);
        if (mem) peaks.workerRssKiB = Math.max(peaks.workerRssKiB, mem.hwm);
      }
      const { rows } = await db.query<{ n: number; max: number }>(
        `select count(*)::int as n, current_setting('max_connections')::int as max
           from pg_stat_activity where backend_type = 'client backend'`,
      );
      peaks.connections = Math.max(peaks.connections, rows[0]!.n);
      peaks.maxConnections = rows[0]!.max;
      peaks.samples++;
    } catch {
      // Postgres is restarting; the next sample counts again.
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void sample(), 1000);
  return {
    peaks,
    stop: () => clearInterval(timer),
  };
}
