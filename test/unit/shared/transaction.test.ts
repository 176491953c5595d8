// The statements inTransaction sends and what it returns or throws, on a client that records them and
// fails where told. test/shared/transaction.test.ts runs it on real Postgres connections.
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { inTransaction, Rollback, withTransaction } from "../../../functions/shared/transaction.ts";

class RecordingClient {
  readonly sent: string[] = [];
  ended = false;
  released = 0;
  private readonly failing: Record<string, Error>;
  constructor(failing: Record<string, Error> = {}) {
    this.failing = failing;
  }
  async query(sql: string): Promise<{ rows: never[] }> {
    this.sent.push(sql);
    const err = this.failing[sql];
    if (err) throw err;
    return { rows: [] };
  }
  async end(): Promise<void> {
    this.ended = true;
  }
  on(): this {
    return this;
  }
  off(): this {
    return this;
  }
  release(): void {
    this.released++;
  }
  asClient(): pg.PoolClient {
    return this as unknown as pg.PoolClient;
  }
}

describe("inTransaction", () => {
  it("begins, runs the body, commits and returns the body's value", async () => {
    const c = new RecordingClient();
    const value = await inTransaction(c.asClient(), async () => {
      await c.query("select 1");
      return 42;
    });
    expect(value).toBe(42);
    expect(c.sent).toEqual(["begin", "select 1", "commit"]);
    expect(c.ended).toBe(false);
  });

  it("rolls back instead of committing when the body returns a Rollback, and returns its value", async () => {
    const c = new RecordingClient();
    const value = await inTransaction<string>(c.asClient(), async () => new Rollback("stopped"));
    expect(value).toBe("stopped");
    expect(c.sent).toEqual(["begin", "rollback"]);
  });

  it("rolls back and rethrows the body's error", async () => {
    const c = new RecordingClient();
    const boom = new Error("boom");
    await expect(
      inTransaction(c.asClient(), async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(c.sent).toEqual(["begin", "rollback"]);
    expect(c.ended).toBe(false);
  });

  it("rolls back after a failed commit and throws the commit's error", async () => {
    const refused = new Error("could not serialize access");
    const c = new RecordingClient({ commit: refused });
    await expect(inTransaction(c.asClient(), async () => 1)).rejects.toBe(refused);
    expect(c.sent).toEqual(["begin", "commit", "rollback"]);
  });

  it("throws the body's error, not the rollback's, and ends a client whose rollback failed", async () => {
    const c = new RecordingClient({ rollback: new Error("Connection terminated unexpectedly") });
    const boom = new Error("boom");
    await expect(
      inTransaction(c.asClient(), async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(c.ended).toBe(true);
  });

  it("ends the client when the rollback a body asked for fails, and throws that failure", async () => {
    const lost = new Error("Connection terminated unexpectedly");
    const c = new RecordingClient({ rollback: lost });
    await expect(inTransaction<string>(c.asClient(), async () => new Rollback("done"))).rejects.toBe(lost);
    expect(c.ended).toBe(true);
  });
});

describe("withTransaction", () => {
  const poolOf = (c: RecordingClient) => ({ connect: async () => c.asClient() }) as unknown as pg.Pool;

  it("releases the client once after a commit and once after a rollback", async () => {
    const ok = new RecordingClient();
    expect(await withTransaction(poolOf(ok), async () => "v")).toBe("v");
    expect(ok.released).toBe(1);
    const failed = new RecordingClient();
    await expect(
      withTransaction(poolOf(failed), async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(failed.sent).toEqual(["begin", "rollback"]);
    expect(failed.released).toBe(1);
  });
});
