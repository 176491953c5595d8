// The default provider: no keys, no network. It draws a real PNG from (prompt, style) and behaves like
// a remote service as the request's `options` column asks: per-style latency, and failures on chosen
// attempts, so retries and partial failures can be shown and tested for real.

import { drawPng } from "./draw-in-thread.ts";
import {
  type ImageJob,
  type ImageProvider,
  PermanentProviderError,
  type ProviderImage,
  TransientProviderError,
} from "./provider.ts";

export interface SimulatedProviderOptions {
  size: number;
  defaultLatencyMs: number;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ms <= 0) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });
}

export function simulatedProvider(opts: SimulatedProviderOptions): ImageProvider {
  return {
    name: "simulated",
    async generate(job: ImageJob, signal?: AbortSignal): Promise<ProviderImage> {
      // Latency is the whole call's duration, as a remote provider's would be: the drawing happens
      // inside it, in the draw thread, while this thread goes on starting the other branches.
      const deadline = Date.now() + (job.simulation.latencyMs[job.style] ?? opts.defaultLatencyMs);
      const fail = job.simulation.fail[job.style];
      if (fail === "reject") {
        await sleep(deadline - Date.now(), signal);
        throw new PermanentProviderError(
          `simulated provider refused style ${job.style}: rejected by content policy`,
        );
      }
      if (fail === "always" || (typeof fail === "number" && job.attempt <= fail)) {
        await sleep(deadline - Date.now(), signal);
        throw new TransientProviderError(
          `simulated provider failure for style ${job.style} on attempt ${job.attempt} (configured: ${fail === "always" ? "always" : `first ${fail}`})`,
        );
      }
      const png = await drawPng(job.prompt, job.style, opts.size);
      await sleep(deadline - Date.now(), signal);
      return { png, width: opts.size, height: opts.size };
    },
  };
}
