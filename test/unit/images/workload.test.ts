import { afterEach, describe, expect, it } from "vitest";
import { loadImagesConfig } from "../../../functions/images/config.ts";
import { buildStorage } from "../../../functions/images/workload.ts";
import { loadConfig } from "../../../functions/shared/config.ts";

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe("image storage", () => {
  it("is Supabase Storage through supabase-js in every mode, so the local stack needs the key too", () => {
    process.env.LOCAL_MODE = "true";
    delete process.env.IMAGES_BUCKET;
    delete process.env.SUPABASE_SERVICE_ROLE_KEY;
    expect(() => buildStorage(loadConfig(), loadImagesConfig())).toThrow(
      /storing images needs SUPABASE_SERVICE_ROLE_KEY/,
    );
    process.env.SUPABASE_SERVICE_ROLE_KEY = "service-role-key";
    expect(buildStorage(loadConfig(), loadImagesConfig()).bucket).toBe("images");
  });
});
