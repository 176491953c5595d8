// The index pass's CPU work (chunking, and embedding with the local model) runs in worker threads, one
// job per thread at a time, so the worker's event loop stays free for health checks, lease heartbeats
// and SIGTERM however big a page is. Threads start on the first job and end after `idleMs` without one,
// which gives the model's memory back between runs.
import { Worker } from "node:worker_threads";
import type { Chunk, ChunkOptions } from "./chunk.ts";
import type { PageText } from "./html.ts";
import type { ThreadJob, ThreadReply } from "./index-thread.ts";

export interface ChunkedDoc {
  /** At most the job's maxChunks chunks, in order. */
  chunks: Chunk[];
  /** How many chunks the whole document makes. */
  total: number;
  /** What each chunk's embedding is computed from. */
  texts: string[];
}

export interface IndexThreads {
  readonly size: number;
  count(content: string, chunk: ChunkOptions): Promise<number>;
  chunk(title: string, content: string, chunk: ChunkOptions, maxChunks: number): Promise<ChunkedDoc>;
  /** One call of the local model, on whichever thread is free. */
  embed(texts: string[]): Promise<number[][]>;
  pageText(html: string): Promise<PageText>;
  close(): Promise<void>;
}

interface Pending {
  id: number;
  job: ThreadJob;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker | undefined;
  running: Pending | undefined;
}

const THREAD_URL = new URL("./index-thread.ts", import.meta.url);

export function startIndexThreads(size: number, idleMs = 30_000): IndexThreads {
  const slots: Slot[] = Array.from({ length: size }, () => ({ worker: undefined, running: undefined }));
  const queue: Pending[] = [];
  let nextId = 0;
  let idleTimer: NodeJS.Timeout | undefined;

  function spawn(slot: Slot): Worker {
    const worker = new Worker(THREAD_URL);
    worker.on("message", (reply: ThreadReply) => {
      const job = slot.running;
      if (!job || job.id !== reply.id) return;
      slot.running = undefined;
      if (reply.ok) job.resolve(reply.value);
      else job.reject(new Error(reply.error));
      dispatch();
    });
    const lost = (err: Error) => {
      if (slot.worker !== worker) return;
      slot.worker = undefined;
      const job = slot.running;
      slot.running = undefined;
      job?.reject(err);
      dispatch();
    };
    worker.on("error", lost);
    worker.on("exit", (code) => lost(new Error(`index thread exited with code ${code}`)));
    return worker;
  }

  function dispatch(): void {
    for (const slot of slots) {
      if (slot.running) continue;
      const job = queue.shift();
      if (!job) break;
      slot.worker ??= spawn(slot);
      slot.running = job;
      // A thread with work holds the process open (a script awaiting it must not exit); an idle one not.
      slot.worker.ref();
      slot.worker.postMessage({ id: job.id, job: job.job });
    }
    for (const slot of slots) if (!slot.running) slot.worker?.unref();
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = undefined;
    if (queue.length === 0 && slots.every((s) => !s.running)) {
      idleTimer = setTimeout(() => void stopIdle(), idleMs);
      idleTimer.unref();
    }
  }

  async function stopIdle(): Promise<void> {
    const idle = slots.filter((s) => s.worker && !s.running);
    await Promise.all(
      idle.map((s) => {
        const w = s.worker!;
        s.worker = undefined;
        return w.terminate();
      }),
    );
  }

  function submit<T>(job: ThreadJob): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      queue.push({ id: nextId++, job, resolve: resolve as (v: unknown) => void, reject });
      dispatch();
    });
  }

  return {
    size,
    count: (content, chunk) => submit<number>({ op: "count", content, chunk }),
    chunk: (title, content, chunk, maxChunks) =>
      submit<ChunkedDoc>({ op: "chunk", title, content, chunk, maxChunks }),
    embed: (texts) => submit<number[][]>({ op: "embed", texts }),
    pageText: (html) => submit<PageText>({ op: "pageText", html }),
    async close() {
      if (idleTimer) clearTimeout(idleTimer);
      for (const job of queue.splice(0)) job.reject(new Error("index threads closed"));
      await Promise.all(
        slots.map((s) => {
          const w = s.worker;
          s.worker = undefined;
          s.running?.reject(new Error("index threads closed"));
          s.running = undefined;
          return w?.terminate();
        }),
      );
    },
  };
}
