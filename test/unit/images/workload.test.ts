import { describe, expect, it, vi } from "vitest";
import { loadImagesConfig } from "../../../functions/images/config.ts";
import { buildStorage } from "../../../functions/images/workload.ts";
import { loadConfig } from "../../../functions/shared/config.ts";

describe("image storage", () => {
  it("is Supabase Storage through supabase-js in every mode, so the local stack needs the key too", () => {
    vi.stubEnv("LOCAL_MODE", "true");
    vi.stubEnv("IMAGES_BUCKET", undefined);
    vi.stubEnv("SUPABASE_SERVICE_ROLE_KEY", undefined);
    expect(() => buildStorage(loadConfig(), loadImagesConfig())).toThrow(
      /storing images needs SUPABASE_SERVICE_ROLE_KEY/,
    );
    vi.stubEnv("SUPABASE_SERVICE_ROLE_KEY", "service-role-key");
    expect(buildStorage(loadConfig(), loadImagesConfig()).bucket).toBe("images");
  });
});
