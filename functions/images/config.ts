// The image workload's settings, read from the environment and checked at start like the shared
// config: which provider draws the images, where they are stored, and how failed branches retry.
import { ConfigError, int } from "../shared/config.ts";
import { readEnv } from "../shared/env.ts";

export type ProviderName = "simulated" | "openai";

export interface ImagesConfig {
  provider: ProviderName;
  /** Supabase Storage bucket, public, that the images are uploaded to. */
  bucket: string;
  /** Edge length of simulated images, px. */
  simulatedSize: number;
  /** Simulated provider latency when the request sets none for a style, ms. */
  simulatedLatencyMs: number;
  openai: {
    apiKey: string | undefined;
    baseUrl: string;
    model: string;
    size: string;
    timeoutMs: number;
  };
  retry: {
    /** First retry delay; each further one doubles, capped at maxDelayMs. */
    delayMs: number;
    maxDelayMs: number;
    /** Retries after the first attempt; a branch makes at most maxRetries + 1 provider calls. */
    maxRetries: number;
  };
}

export function loadImagesConfig(): ImagesConfig {
  const provider = readEnv("IMAGES_PROVIDER") || "simulated";
  if (provider !== "simulated" && provider !== "openai") {
    throw new ConfigError(`IMAGES_PROVIDER must be simulated or openai, got ${JSON.stringify(provider)}`);
  }
  const apiKey = readEnv("OPENAI_API_KEY") || undefined;
  if (provider === "openai" && !apiKey) throw new ConfigError("IMAGES_PROVIDER=openai needs OPENAI_API_KEY");
  const baseUrl = readEnv("OPENAI_BASE_URL") || "https://api.openai.com/v1";
  try {
    new URL(baseUrl);
  } catch {
    throw new ConfigError(`OPENAI_BASE_URL must be a URL, got ${JSON.stringify(baseUrl)}`);
  }
  const bucket = readEnv("IMAGES_BUCKET") || "images";
  if (!/^[a-z0-9][a-z0-9_-]{1,62}$/.test(bucket)) {
    throw new ConfigError(
      `IMAGES_BUCKET must be a bucket name (lowercase letters, digits, - and _), got ${JSON.stringify(bucket)}`,
    );
  }
  const size = readEnv("OPENAI_IMAGE_SIZE") || "1024x1024";
  if (!/^\d+x\d+$/.test(size))
    throw new ConfigError(`OPENAI_IMAGE_SIZE must look like 1024x1024, got ${JSON.stringify(size)}`);
  return {
    provider,
    bucket,
    simulatedSize: int("IMAGES_SIMULATED_SIZE", 256, 16, 2048),
    simulatedLatencyMs: int("IMAGES_SIMULATED_LATENCY_MS", 300, 0, 120_000),
    openai: {
      apiKey,
      baseUrl: baseUrl.replace(/\/+$/, ""),
      model: readEnv("OPENAI_IMAGE_MODEL") || "gpt-image-1",
      size,
      timeoutMs: int("OPENAI_TIMEOUT_MS", 120_000, 1_000, 600_000),
    },
    retry: {
      delayMs: int("IMAGES_RETRY_DELAY_MS", 250, 1, 600_000),
      maxDelayMs: int("IMAGES_RETRY_MAX_DELAY_MS", 10_000, 1, 3_600_000),
      maxRetries: int("IMAGES_MAX_RETRIES", 3, 0, 100),
    },
  };
}

/** The gallery's one setting, apart from the provider's so the gallery runs whatever draws the images.
 *  GALLERY_HTML: true where text/html reaches the browser as HTML (gallery-answer.ts). Default false. */
export function galleryServesHtml(): boolean {
  const raw = readEnv("GALLERY_HTML") ?? "";
  if (raw === "" || raw === "false") return false;
  if (raw === "true") return true;
  throw new ConfigError(`GALLERY_HTML must be true or false, got ${JSON.stringify(raw)}`);
}
