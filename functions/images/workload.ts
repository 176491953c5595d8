// The images workload's registration with the worker: chooses the provider and the storage from the
// environment and registers the `generateImages` workflow.
import { createClient } from "@supabase/supabase-js";
import type { AppConfig } from "../shared/config.ts";
import { ConfigError } from "../shared/config.ts";
import type { Workload } from "../workload.ts";
import { type ImagesConfig, loadImagesConfig } from "./config.ts";
import { openAiProvider } from "./openai.ts";
import type { ImageProvider } from "./provider.ts";
import { imagesRoute } from "./route.ts";
import { simulatedProvider } from "./simulated.ts";
import type { ImagesDeps } from "./steps.ts";
import { type ImageStorage, supabaseStorage } from "./storage.ts";
import { generateImages } from "./workflow.ts";

export function buildProvider(cfg: ImagesConfig): ImageProvider {
  if (cfg.provider === "openai") {
    return openAiProvider({ ...cfg.openai, apiKey: cfg.openai.apiKey! });
  }
  return simulatedProvider({ size: cfg.simulatedSize, defaultLatencyMs: cfg.simulatedLatencyMs });
}

export function buildStorage(app: AppConfig, cfg: ImagesConfig): ImageStorage {
  if (!app.serviceRoleKey)
    throw new ConfigError(
      "storing images needs SUPABASE_SERVICE_ROLE_KEY: images go to Supabase Storage at SUPABASE_URL, on the local stack too",
    );
  const client = createClient(app.supabaseUrl, app.serviceRoleKey, { auth: { persistSession: false } });
  return supabaseStorage(client, cfg.bucket);
}

export const imagesWorkload: Workload = {
  route: imagesRoute,
  register(resonate, { pool, config, log }) {
    const cfg = loadImagesConfig();
    const deps: ImagesDeps = {
      pool,
      provider: buildProvider(cfg),
      storage: buildStorage(config, cfg),
      retry: cfg.retry,
      log: log.child({ workload: "images" }),
    };
    resonate.setDependency(imagesRoute.kind, deps);
    resonate.register(imagesRoute.workflow, generateImages);
  },
};
