// The one interface every image provider implements, and the two kinds of failure the workflow
// tells apart: transient ones are retried by the branch's retry policy, permanent ones end the style.
import type { SimulationOptions } from "./validate.ts";

export interface ImageJob {
  prompt: string;
  style: string;
  /** 1 for the first provider call of this style, counted in the database across crashes. */
  attempt: number;
  simulation: SimulationOptions;
}

export interface ProviderImage {
  png: Uint8Array;
  width: number;
  height: number;
}

export interface ImageProvider {
  readonly name: string;
  generate(job: ImageJob, signal?: AbortSignal): Promise<ProviderImage>;
}

/** Worth another attempt (rate limit, outage, timeout). `retryAfterMs` is the provider's own hint. */
export class TransientProviderError extends Error {
  override name = "TransientProviderError";
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

/** Will fail the same way every time (bad request, content policy, bad key): never retried. */
export class PermanentProviderError extends Error {
  override name = "PermanentProviderError";
}
