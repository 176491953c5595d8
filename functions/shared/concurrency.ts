// Caps how many tasks one worker executes at once (WORKER_CONCURRENCY). The SDK (0.11.5) starts every
// `execute` message it receives; this queues the excess in arrival order. A queued task stays pending
// in the store, so if it waits past the retry interval another worker in the group may take it first;
// the late local attempt then gets a 409 on acquire and is dropped, which is harmless.
import type { Resonate } from "@resonatehq/sdk";

export interface ConcurrencyGauge {
  active(): number;
  queued(): number;
  /** Whether this process has taken on the task (executing it, or queued for a slot). */
  has(taskId: string): boolean;
}

type OnMessage = (msg: unknown) => Promise<unknown>;

export function limitConcurrency(resonate: Resonate, max: number): ConcurrencyGauge {
  const core = (resonate as unknown as { core?: { onMessage?: OnMessage } }).core;
  let active = 0;
  const waiting: (() => void)[] = [];
  const taken = new Map<string, number>();
  const take = (id: string | undefined, by: number) => {
    if (id === undefined) return;
    const n = (taken.get(id) ?? 0) + by;
    if (n > 0) taken.set(id, n);
    else taken.delete(id);
  };
  if (core?.onMessage) {
    const original = core.onMessage.bind(core);
    core.onMessage = (msg) =>
      new Promise((resolve, reject) => {
        const taskId = (msg as { data?: { task?: { id?: string } } })?.data?.task?.id;
        take(taskId, 1);
        const run = () => {
          active++;
          original(msg)
            .then(resolve, reject)
            .finally(() => {
              active--;
              take(taskId, -1);
              waiting.shift()?.();
            });
        };
        if (active < max) run();
        else waiting.push(run);
      });
  }
  return { active: () => active, queued: () => waiting.length, has: (id) => taken.has(id) };
}
