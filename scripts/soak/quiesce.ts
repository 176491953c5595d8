// After the load: wait until the first invariant holds (every row terminal, every workflow settled), or
// the drain budget runs out. The budget covers the webhook backstop, which re-posts a lost webhook only
// once its row has been queued for 3 minutes and runs once a minute.
import type pg from "pg";
import { INVARIANTS } from "./invariants.ts";

export const DRAIN_MS = 6 * 60_000;

export async function waitForQuiescence(
  db: pg.Pool,
  signal: AbortSignal,
  say: (msg: string) => void,
): Promise<boolean> {
  const deadline = Date.now() + DRAIN_MS;
  let lastSaid = 0;
  while (!signal.aborted && Date.now() < deadline) {
    const open = await db
      .query<{ kind: string }>(INVARIANTS[0]!.violations)
      .then((r) => r.rows)
      .catch(() => undefined);
    if (open && open.length === 0) return true;
    if (open && Date.now() - lastSaid > 15_000) {
      const byKind: Record<string, number> = {};
      for (const r of open) byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
      say(`waiting for ${open.length} unfinished rows ${JSON.stringify(byKind)}`);
      lastSaid = Date.now();
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  return false;
}
