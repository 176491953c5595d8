// How Edge Functions reach the database: through the transaction pooler when DB_POOLER_URL is set
// (Supavisor's port 6543 on a hosted project, pgbouncer on 54329 locally), else the direct
// SUPABASE_DB_URL the platform injects.
//
// An isolate keeps one client connection per URL, opened on first use: no pool, no idle timer, nothing
// scheduled between requests. Through the pooler an idle client holds no database backend (pgbouncer
// lends one per statement), and concurrent requests queue their single statements on it, which is cheaper
// than a connection (and its password exchange) per request. Only single statements go through it:
// in transaction mode no session state may be assumed anyway.
import pg from "pg";
import type { AppConfig } from "./config.ts";

export function edgeDatabaseUrl(cfg: Pick<AppConfig, "poolerUrl" | "databaseUrl">): string {
  return cfg.poolerUrl ?? cfg.databaseUrl;
}

const clients = new Map<string, Promise<pg.Client>>();

function connect(url: string): Promise<pg.Client> {
  let open = clients.get(url);
  if (open) return open;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  const forget = () => {
    if (clients.get(url) === open) clients.delete(url);
  };
  // A restart of the pooler or database ends the connection; the next request opens a new one.
  client.on("error", forget);
  client.on("end", forget);
  open = client.connect().then(
    () => client,
    (err) => {
      forget();
      throw err;
    },
  );
  clients.set(url, open);
  return open;
}

/** Errors that mean the connection is gone, not that the statement failed. */
function connectionLost(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    /^(08|57P0)/.test(e.code ?? "") ||
    /Connection terminated|ECONNRESET|EPIPE|not queryable|Client was closed/i.test(e.message ?? "")
  );
}

/**
 * Runs fn with the isolate's connection for `url`. If that connection turns out to be dead (the pooler
 * or database restarted since the last request), fn runs once more on a new one, so fn must be safe to
 * repeat: ours are idempotent single statements.
 */
export async function withConnection<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(url);
  try {
    return await fn(client);
  } catch (err) {
    if (!connectionLost(err)) throw err;
    if (clients.get(url) !== undefined && (await clients.get(url)?.catch(() => undefined)) === client) {
      clients.delete(url);
      client.end().catch(() => {});
    }
    return fn(await connect(url));
  }
}

/** Closes the isolate's connections (tests, and a server shutting an isolate down). */
export async function closeConnections(): Promise<void> {
  const open = [...clients.values()];
  clients.clear();
  await Promise.all(open.map(async (p) => (await p.catch(() => undefined))?.end().catch(() => {})));
}
