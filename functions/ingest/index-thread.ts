// One indexing thread (see index-threads.ts): turns big HTML pages into text, chunks documents and embeds
// texts with the local model, one job at a time, so the worker's event loop only passes messages.
import { setPriority } from "node:os";
import { parentPort } from "node:worker_threads";
import { type ChunkOptions, chunkMarkdown, embeddingText, leadParagraph } from "./chunk.ts";
import { htmlToText } from "./html.ts";
import { localModel } from "./local-model.ts";

// Below the worker's main thread (nice 10; on Linux pid 0 is this thread alone): with every core
// embedding, the event loop still gets a core the moment a health check or heartbeat is due.
try {
  setPriority(0, 10);
} catch {
  // Not permitted here (a container without CAP_SYS_NICE may refuse only raising it, but be safe).
}

export type ThreadJob =
  | { op: "count"; content: string; chunk: ChunkOptions }
  | { op: "chunk"; title: string; content: string; chunk: ChunkOptions; maxChunks: number }
  | { op: "embed"; texts: string[] }
  | { op: "pageText"; html: string };

export type ThreadReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

async function run(job: ThreadJob): Promise<unknown> {
  switch (job.op) {
    case "count":
      return chunkMarkdown(job.content, job.chunk).length;
    case "chunk": {
      const all = chunkMarkdown(job.content, job.chunk);
      const chunks = all.slice(0, job.maxChunks);
      const lead = leadParagraph(job.content);
      return { chunks, total: all.length, texts: chunks.map((c) => embeddingText(job.title, c, lead)) };
    }
    case "embed":
      return (await localModel()).embed(job.texts);
    case "pageText":
      return htmlToText(job.html);
  }
}

parentPort?.on("message", async ({ id, job }: { id: number; job: ThreadJob }) => {
  let reply: ThreadReply;
  try {
    reply = { id, ok: true, value: await run(job) };
  } catch (err) {
    reply = { id, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  parentPort!.postMessage(reply);
});
