// OpenAI's Images API over fetch: POST /v1/images/generations, the image returned as base64 PNG.
// Status codes map onto the workflow's two failure kinds: 429 / 5xx / network errors are transient
// (429 carries the wait the API asks for), 4xx such as a content-policy refusal are permanent.
import { isPng, pngSize } from "./png.ts";
import {
  type ImageJob,
  type ImageProvider,
  PermanentProviderError,
  type ProviderImage,
  TransientProviderError,
} from "./provider.ts";

export interface OpenAiOptions {
  apiKey: string;
  /** e.g. https://api.openai.com/v1 (tests point it at a loopback server). */
  baseUrl: string;
  model: string;
  size: string;
  timeoutMs: number;
  fetch?: typeof fetch;
}

/** The API's wait hint: `retry-after-ms` (OpenAI's own), else `retry-after` in seconds or as an HTTP date. */
export function parseRetryAfter(headers: Headers, now = Date.now()): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && ms.trim() !== "" && Number.isFinite(Number(ms)) && Number(ms) >= 0)
    return Math.round(Number(ms));
  const ra = headers.get("retry-after");
  if (ra === null || ra.trim() === "") return undefined;
  const secs = Number(ra);
  if (Number.isFinite(secs)) return secs >= 0 ? Math.round(secs * 1000) : undefined;
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function buildPrompt(prompt: string, style: string): string {
  return `${prompt}\n\nStyle: ${style.replace(/-/g, " ")}.`;
}

interface ApiError {
  error?: { message?: unknown; code?: unknown; type?: unknown };
}

function describe(status: number, body: unknown): string {
  const e = (body as ApiError | undefined)?.error;
  const msg = typeof e?.message === "string" ? e.message : `HTTP ${status}`;
  const code = typeof e?.code === "string" ? e.code : typeof e?.type === "string" ? e.type : undefined;
  return `openai ${status}${code ? ` ${code}` : ""}: ${msg}`;
}

export function openAiProvider(opts: OpenAiOptions): ImageProvider {
  const doFetch = opts.fetch ?? fetch;
  return {
    name: "openai",
    async generate(job: ImageJob, signal?: AbortSignal): Promise<ProviderImage> {
      const body: Record<string, unknown> = {
        model: opts.model,
        prompt: buildPrompt(job.prompt, job.style),
        n: 1,
        size: opts.size,
      };
      // gpt-image models always answer in base64 and reject the parameter; dall-e needs it.
      if (opts.model.startsWith("dall-e")) body.response_format = "b64_json";
      const timeout = AbortSignal.timeout(opts.timeoutMs);
      let res: Response;
      try {
        res = await doFetch(`${opts.baseUrl}/images/generations`, {
          method: "POST",
          headers: { authorization: `Bearer ${opts.apiKey}`, "content-type": "application/json" },
          body: JSON.stringify(body),
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (err) {
        throw new TransientProviderError(`openai request failed: ${(err as Error).message}`);
      }
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      if (!res.ok) {
        const message = describe(res.status, parsed);
        if (res.status === 429 || res.status === 408 || res.status === 409 || res.status >= 500) {
          throw new TransientProviderError(message, parseRetryAfter(res.headers));
        }
        throw new PermanentProviderError(message);
      }
      const b64 = (parsed as { data?: { b64_json?: unknown }[] } | undefined)?.data?.[0]?.b64_json;
      if (typeof b64 !== "string" || b64 === "") {
        throw new TransientProviderError("openai answered 200 without data[0].b64_json");
      }
      const png = Uint8Array.from(Buffer.from(b64, "base64"));
      if (!isPng(png)) throw new TransientProviderError("openai answered with data that is not a PNG");
      return { png, ...pngSize(png) };
    },
  };
}
