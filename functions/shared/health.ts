// The worker's health check: GET http://127.0.0.1:<WORKER_HEALTH_PORT>/health answers 200 while the
// worker runs, reaches its database and takes work from the durable store; 503 while it stops, cannot
// reach the database, or has not yet connected to the store; with what it is doing.
import { createServer, type Server } from "node:http";
import type pg from "pg";
import type { Gauge } from "./resonate-client.ts";

export interface HealthState {
  worker: string;
  group: string;
  stopping: () => boolean;
  gauge: Gauge;
  pool: pg.Pool;
  /** Whether the durable store's network has started (it retries until the database answers). */
  storeReady: () => boolean;
}

export async function healthReport(
  s: HealthState,
): Promise<{ status: number; body: Record<string, unknown> }> {
  let database = "reachable";
  try {
    await s.pool.query("select 1");
  } catch (err) {
    database = `unreachable: ${(err as Error).message}`;
  }
  const store = s.storeReady() ? "connected" : "connecting";
  const ok = database === "reachable" && store === "connected" && !s.stopping();
  return {
    status: ok ? 200 : 503,
    body: {
      status: s.stopping() ? "stopping" : ok ? "ok" : "degraded",
      worker: s.worker,
      group: s.group,
      database,
      durable_store: store,
      tasks_running: s.gauge.active(),
      tasks_queued: s.gauge.queued(),
      uptime_s: Math.round(process.uptime()),
    },
  };
}

export function serveHealth(port: number, state: HealthState): Promise<Server> {
  const server = createServer(async (req, res) => {
    if (req.url !== "/health") {
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"GET /health"}');
      return;
    }
    const { status, body } = await healthReport(state);
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  });
  return new Promise((resolve, reject) => {
    // Without a listener, a taken port is an unhandled 'error' event: a crash with a stack trace.
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "EADDRINUSE"
          ? new Error(
              `WORKER_HEALTH_PORT ${port} is already in use on 127.0.0.1 (another worker, or another program); choose a free port or stop that process`,
            )
          : new Error(`WORKER_HEALTH_PORT ${port}: cannot listen (${err.message})`),
      ),
    );
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}
