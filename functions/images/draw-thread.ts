// Runs in a worker thread: draws and encodes one picture per message. Kept off the main thread so a
// simulated provider behaves like a remote one: drawing never stalls the event loop that is busy
// starting and settling the workflow's other branches.
import { parentPort } from "node:worker_threads";
import { draw } from "./draw.ts";
import { encodePng } from "./png.ts";

export interface DrawRequest {
  id: number;
  prompt: string;
  style: string;
  size: number;
}

export type DrawReply = { id: number; png: Uint8Array } | { id: number; error: string };

parentPort?.on("message", (msg: DrawRequest) => {
  try {
    const r = draw(msg.prompt, msg.style, msg.size);
    const png = encodePng(r.width, r.height, r.rgb);
    parentPort!.postMessage({ id: msg.id, png } satisfies DrawReply, [png.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: (err as Error).message } satisfies DrawReply);
  }
});
