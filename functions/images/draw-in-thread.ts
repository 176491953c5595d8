// One lazily started draw thread per process, shared by every simulated call. The thread is unref'd
// so it never keeps a process alive; if it dies, pending drawings fail (transiently: the branch retries)
// and the next call starts a new one.
import { Worker } from "node:worker_threads";
import type { DrawReply, DrawRequest } from "./draw-thread.ts";

let thread: Worker | undefined;
let nextId = 0;
const pending = new Map<number, { resolve: (png: Uint8Array) => void; reject: (err: Error) => void }>();

function failAll(err: Error): void {
  for (const p of pending.values()) p.reject(err);
  pending.clear();
  thread = undefined;
}

function getThread(): Worker {
  if (thread) return thread;
  const t = new Worker(new URL("./draw-thread.ts", import.meta.url));
  t.unref();
  t.on("message", (msg: DrawReply) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if ("error" in msg) p.reject(new Error(`drawing failed: ${msg.error}`));
    else p.resolve(msg.png);
  });
  t.on("error", (err) => failAll(new Error(`draw thread crashed: ${err.message}`)));
  t.on("exit", (code) => failAll(new Error(`draw thread exited with code ${code}`)));
  thread = t;
  return t;
}

/** The PNG of (prompt, style) at size x size, drawn in the draw thread. */
export function drawPng(prompt: string, style: string, size: number): Promise<Uint8Array> {
  const id = nextId++;
  const t = getThread();
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    t.postMessage({ id, prompt, style, size } satisfies DrawRequest);
  });
}
