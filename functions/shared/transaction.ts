// One transaction on one connection, begun, committed or rolled back the same way everywhere. The caller
// keeps the connection (and releases it): several steps hold one across many transactions.
//
// A rollback that fails leaves the connection unusable: the socket is gone, or it is alive with the
// transaction still open (a statement timeout, a cancel). Either way it must not serve another statement
// nor go back to a pool, so it is ended; a pool drops an ended client when it is released. The error the
// caller sees is always the one that made the transaction roll back, never the rollback's own.
import type pg from "pg";

/** Returned from a transaction's body to end it without committing; `inTransaction` returns `value`. */
export class Rollback<T> {
  readonly value: T;
  constructor(value: T) {
    this.value = value;
  }
}

/** A connection a transaction runs on: a pool's client or a client of its own. Both can be ended. */
export type TransactionClient = pg.PoolClient | pg.Client;

export async function inTransaction<T>(
  client: TransactionClient,
  body: () => Promise<T | Rollback<T>>,
): Promise<T> {
  // A connection that dies mid-transaction also emits "error" on its client, and a pool's checked-out
  // client has no listener for it: the process would crash on it. The statement in flight (or the next
  // one) fails with the same cause, and that failure is what the caller gets.
  client.on("error", ignore);
  let result: T | Rollback<T>;
  try {
    await client.query("begin");
    result = await body();
    if (result instanceof Rollback) await client.query("rollback");
    else await client.query("commit");
  } catch (err) {
    await rollbackOrEnd(client);
    throw err;
  } finally {
    client.off("error", ignore);
  }
  return result instanceof Rollback ? result.value : result;
}

function ignore(): void {}

/** Checks a client out of `pool` for one transaction and releases it after. */
export async function withTransaction<T>(
  pool: pg.Pool,
  body: (client: pg.PoolClient) => Promise<T | Rollback<T>>,
): Promise<T> {
  const client = await pool.connect();
  try {
    return await inTransaction(client, () => body(client));
  } finally {
    client.release();
  }
}

async function rollbackOrEnd(client: TransactionClient): Promise<void> {
  try {
    await client.query("rollback");
  } catch {
    // pg's pool clients are pg.Client instances at run time; the types leave end() off PoolClient.
    // end() marks the client as ending at once: a release after it removes the client from its pool.
    (client as pg.Client).end().catch(() => {});
  }
}
