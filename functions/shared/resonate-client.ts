// Builds the app's Resonate client. The default durable store is the app database itself: the
// `resonate` schema, reached through our StoreNetwork (store/network.ts); RESONATE_URL switches to a
// Resonate Server over HTTP for deployments that outgrow one database. Worker, tests and benchmarks
// all call this (Edge Functions start workflows through start-workflow.ts).
import { ConsoleLogger, HttpNetwork, PollMessageSource, Resonate } from "@resonatehq/sdk";
import { CappedNetwork } from "./capped-network.ts";
import type { ResonateConfig } from "./config.ts";
import type { Logger } from "./log.ts";
import { assertAttached } from "./sdk-contract.ts";
import { sdkLogger } from "./sdk-logger.ts";
import { StoreNetwork } from "./store/network.ts";

/** The group whose processes execute workflows; everything else (Edge Functions, CLIs) only starts them. */
export const WORKER_GROUP = "workers";

export interface ClientOptions {
  databaseUrl: string;
  resonate: ResonateConfig;
  /** Group this process joins. Processes that only start workflows use their own group, so they never
   *  receive (and sit on) tasks meant for the workers. */
  group?: string;
  pid?: string;
  /** The most tasks this process runs at once (a worker's WORKER_CONCURRENCY). */
  concurrency?: number;
  /** Where the SDK's and the network's events go, as the app's JSON lines; without it they go to the console. */
  log?: Logger;
  /** Called each time the durable store's connection comes up (at once for a Resonate Server). */
  onStoreReady?: () => void;
}

/** What a worker reads and drives around its client, whichever the backend. */
export interface Gauge {
  /** Executions running in this process, including acquires still in flight. */
  active(): number;
  /** Execute messages waiting for a slot (a Resonate Server pushes them; the schema is asked for no more than fit). */
  queued(): number;
}

export interface Client {
  resonate: Resonate;
  gauge: Gauge;
  /** The schema's network, for what only it does (readiness, graceful drain); absent for a Resonate Server. */
  store: StoreNetwork | undefined;
}

export function createClient(opts: ClientOptions): Client {
  const group = opts.group ?? opts.resonate.group;
  const ttl = opts.resonate.ttlMs;
  const logger = opts.log ? sdkLogger(opts.log) : undefined;
  if (opts.resonate.serverUrl) {
    const url = opts.resonate.serverUrl;
    const pid = opts.pid ?? crypto.randomUUID().replaceAll("-", "");
    // As the SDK builds it for `new Resonate({ url })`, wrapped in the concurrency cap.
    const http = new HttpNetwork({
      url,
      headers: {},
      logger: logger ?? new ConsoleLogger("warn"),
      adapter: new PollMessageSource({
        url: `${url}/poll/${encodeURIComponent(group)}/${encodeURIComponent(pid)}`,
        logger: logger ?? new ConsoleLogger("warn"),
      }),
    });
    const capped = new CappedNetwork(http, opts.concurrency ?? Number.POSITIVE_INFINITY);
    const resonate = new Resonate({ network: capped, group, pid, ttl, logger });
    // After this function returns, as on the Postgres path: the callback may use what the caller is
    // still building.
    if (opts.onStoreReady) queueMicrotask(opts.onStoreReady);
    return { resonate, gauge: capped, store: undefined };
  }
  const store = new StoreNetwork({
    connectionString: opts.databaseUrl,
    group,
    pid: opts.pid,
    tickMs: opts.resonate.tickMs,
    startedAfterMs: opts.resonate.stepStartedAfterMs,
    concurrency: opts.concurrency,
    log: opts.log,
    onReady: opts.onStoreReady,
  });
  const gauge = { active: () => store.active(), queued: () => 0 };
  const resonate = new Resonate({ network: store, group, pid: store.pid, ttl, logger });
  assertAttached(store);
  return { resonate, gauge, store };
}

export function createResonate(opts: ClientOptions): Resonate {
  return createClient(opts).resonate;
}

/** Options that route a workflow started with beginRpc to the worker group. */
export function toWorkers(resonate: Resonate, workerGroup = WORKER_GROUP) {
  return resonate.options({ target: workerGroup });
}
