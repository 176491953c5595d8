// The network's database sessions for requests: at most `size`, each running one call at a time and
// reused most recently freed first, so a lone sequential workflow keeps one warm session. Each
// statement is prepared once per session (a named statement): the hot calls are a single function
// call, whose parse and plan otherwise come back with every call. A session the database
// ended or the network broke is dropped, and the next call opens a new one, so requests work again as
// soon as a restarted database answers. These are direct sessions, as the mailbox's is: named
// statements do not survive a transaction pooler.
import pg from "pg";
import type { Queryable } from "./batches.ts";

export interface SessionsOptions {
  connectionString: string;
  size: number;
  /** How long opening a session may take before the call fails: a database behind a dead route or a
   *  hung proxy never answers, and the call (a step's write) would wait for ever. */
  connectTimeoutMs?: number;
  /** A session broke while idle or in a call; it is dropped either way. */
  onLost(err: Error): void;
}

/** How long opening a connection to the store may take by default, the mailbox's included. */
export const CONNECT_TIMEOUT_MS = 15_000;

export class Sessions implements Queryable {
  private readonly opts: SessionsOptions;
  private readonly idle: pg.Client[] = [];
  private readonly waiting: (() => void)[] = [];
  private readonly dropped = new WeakSet<pg.Client>();
  private readonly names = new Map<string, string>();
  private open = 0;
  private ended = false;

  constructor(opts: SessionsOptions) {
    this.opts = opts;
  }

  async query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> {
    // A warm session takes the call at once, so the statement is on the wire before the caller's
    // caller resumes: awaiting even a settled promise lets every queued continuation run first.
    const client = (!this.ended && this.idle.pop()) || (await this.acquire());
    try {
      const res = await client.query({ name: this.name(text), text, values });
      this.release(client);
      return res;
    } catch (err) {
      // An error the statement raised leaves the session as it was; anything else ends it.
      if (err instanceof pg.DatabaseError && err.severity === "ERROR") this.release(client);
      else this.drop(client);
      throw err;
    }
  }

  async end(): Promise<void> {
    this.ended = true;
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.all(this.idle.splice(0).map((c) => c.end().catch(() => {})));
  }

  private name(text: string): string {
    let name = this.names.get(text);
    if (name === undefined) {
      name = `store_${this.names.size + 1}`;
      this.names.set(text, name);
    }
    return name;
  }

  private async acquire(): Promise<pg.Client> {
    for (;;) {
      if (this.ended) throw new Error("the store's sessions are closed");
      const warm = this.idle.pop();
      if (warm) return warm;
      if (this.open < this.opts.size) return this.connect();
      await new Promise<void>((wake) => this.waiting.push(wake));
    }
  }

  private async connect(): Promise<pg.Client> {
    this.open++;
    const client = new pg.Client({
      connectionString: this.opts.connectionString,
      connectionTimeoutMillis: this.opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    });
    // Without a listener, a session broken while idle is an unhandled 'error' event that ends the process.
    client.on("error", (err) => {
      this.opts.onLost(err);
      this.drop(client);
    });
    try {
      await client.connect();
    } catch (err) {
      this.drop(client);
      throw err;
    }
    return client;
  }

  private release(client: pg.Client): void {
    if (this.dropped.has(client)) return;
    if (this.ended) {
      this.drop(client);
      return;
    }
    this.idle.push(client);
    this.waiting.shift()?.();
  }

  private drop(client: pg.Client): void {
    if (this.dropped.has(client)) return;
    this.dropped.add(client);
    this.open--;
    const at = this.idle.indexOf(client);
    if (at >= 0) this.idle.splice(at, 1);
    void client.end().catch(() => {});
    // A caller waiting for a session may open one now.
    this.waiting.shift()?.();
  }
}
