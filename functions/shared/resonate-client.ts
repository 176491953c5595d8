// Builds the app's Resonate client. The default durable store is the app database itself (the
// `resonate` schema driven by the SDK's PostgresNetwork); RESONATE_URL switches to a Resonate Server
// over HTTP for deployments that outgrow one database. Worker, Edge Functions and tests all call this.
import { Resonate } from "@resonatehq/sdk";
import { PostgresNetwork } from "@resonatehq/sdk/postgres";
import type { ResonateConfig } from "./config.ts";
import type { Logger } from "./log.ts";
import { sdkLogger } from "./sdk-logger.ts";

/** The group whose processes execute workflows; everything else (Edge Functions, CLIs) only starts them. */
export const WORKER_GROUP = "workers";

export interface ClientOptions {
  databaseUrl: string;
  resonate: ResonateConfig;
  /** Group this process joins. Processes that only start workflows use their own group, so they never
   *  receive (and sit on) tasks meant for the workers. */
  group?: string;
  pid?: string;
  /** Where the SDK's events go, as the app's JSON lines; without it the SDK logs warnings itself. */
  log?: Logger;
  /** Called once the durable store's connection is up (at once for a Resonate Server). */
  onStoreReady?: () => void;
}

// Whether each client's durable store connection is up (see retryStart); Resonate Server clients are.
const storeState = new WeakMap<Resonate, { ready: boolean }>();

/** False while the client's PostgresNetwork has not started (its database unreachable so far). */
export function durableStoreReady(resonate: Resonate): boolean {
  return storeState.get(resonate)?.ready ?? true;
}

export function createResonate(opts: ClientOptions): Resonate {
  const group = opts.group ?? opts.resonate.group;
  const ttl = opts.resonate.ttlMs;
  const logger = opts.log ? sdkLogger(opts.log) : undefined;
  if (opts.resonate.serverUrl) {
    const resonate = new Resonate({ url: opts.resonate.serverUrl, group, pid: opts.pid, ttl, logger });
    // After this function returns, as on the Postgres path: the callback may use what the caller is
    // still building.
    if (opts.onStoreReady) queueMicrotask(opts.onStoreReady);
    return resonate;
  }
  const network = new PostgresNetwork({
    connectionString: opts.databaseUrl,
    group,
    pid: opts.pid,
    tickMs: opts.resonate.tickMs,
    logger,
  });
  survivePoolErrors(network);
  const state = retryStart(network, opts);
  const resonate = new Resonate({ network, group, pid: opts.pid, ttl, logger });
  storeState.set(resonate, state);
  return resonate;
}

/** The fields of the SDK's (0.11.5) PostgresNetwork that start-up retry and graceful stop reach into. */
export interface NetworkInternals {
  init(): Promise<void>;
  stopped?: boolean;
  timer?: ReturnType<typeof setTimeout>;
  listenClient?: { end(): Promise<void> };
}

function warn(log: Logger | undefined, event: string, fields: Record<string, unknown>): void {
  if (log) log.warn(event, fields);
  else console.warn(JSON.stringify({ level: "warn", event, ...fields }));
}

/**
 * The SDK (0.11.5) starts the network once and only logs a failure, so a worker whose database was
 * down at that moment stayed up, looked healthy and never took work. This retries the start until it
 * succeeds or the client stops.
 */
function retryStart(network: PostgresNetwork, opts: ClientOptions): { ready: boolean } {
  const state = { ready: false };
  const internal = network as unknown as NetworkInternals;
  if (typeof internal.init !== "function") return { ready: true };
  const init = internal.init.bind(network);
  internal.init = async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        await init();
        state.ready = true;
        if (attempt > 1) opts.log?.info("durable store reachable; taking work", { attempts: attempt });
        opts.onStoreReady?.();
        return;
      } catch (err) {
        await internal.listenClient?.end().catch(() => {});
        if (internal.stopped) throw err;
        const retryInMs = Math.min(500 * attempt, 5_000);
        warn(opts.log, "durable store unreachable; retrying", {
          error: (err as Error).message,
          attempt,
          retry_in_ms: retryInMs,
        });
        await new Promise((r) => setTimeout(r, retryInMs));
        if (internal.stopped) throw err;
      }
    }
  };
  return state;
}

interface PoolLike {
  on(event: "error", listener: (err: Error) => void): unknown;
}

/**
 * PostgresNetwork (SDK 0.11.5) creates its pg.Pool without an 'error' listener, so when the database
 * restarts, an idle pooled connection's error is an unhandled 'error' event that kills the process.
 * With a listener the pool just drops the broken connection and opens a new one on the next query,
 * and the network's fallback tick keeps delivering until then. Guarded by the Postgres-restart test.
 */
function survivePoolErrors(network: PostgresNetwork): void {
  const internal = network as unknown as { getPool?: () => Promise<PoolLike> };
  if (typeof internal.getPool !== "function") return;
  internal
    .getPool()
    .then((pool) =>
      pool.on("error", (err) =>
        console.warn(
          JSON.stringify({ level: "warn", event: "resonate pool connection lost", error: err.message }),
        ),
      ),
    )
    .catch(() => {});
}

/** Options that route a workflow started with beginRpc to the worker group. */
export function toWorkers(resonate: Resonate, workerGroup = WORKER_GROUP) {
  return resonate.options({ target: workerGroup });
}
