// Tasks the `resonate` schema shows held by one worker id, and releasing them so the group re-runs
// them at once instead of after their leases lapse. Fencing keeps a release safe: if the holder is in
// fact still running the task, its next durable step is refused and it stops.

interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[] }>;
}

export interface HeldTask {
  id: string;
  version: number;
}

export async function heldTasks(db: Queryable, pid: string): Promise<HeldTask[]> {
  const { rows } = await db.query(
    "select id, version from resonate.tasks where pid = $1 and state = 'acquired'",
    [pid],
  );
  return rows as HeldTask[];
}

/** Releases each task; returns the ids the store released (a task settled meanwhile is skipped). */
export async function releaseTasks(db: Queryable, reason: string, tasks: HeldTask[]): Promise<string[]> {
  const released: string[] = [];
  for (const t of tasks) {
    const { rows } = await db.query("select resonate.resonate_rpc($1::jsonb) as res", [
      JSON.stringify({
        kind: "task.release",
        head: { corrId: `${reason}-${t.id}-${t.version}`, version: "2026-04-01" },
        data: { id: t.id, version: t.version },
      }),
    ]);
    if ((rows[0] as { res?: { head?: { status?: number } } })?.res?.head?.status === 200) released.push(t.id);
  }
  return released;
}
