import { defineConfig } from "vitest/config";

// Integration tests share one local stack (one Postgres, one functions server), so files run one at a
// time; each file isolates itself with its own ids or its own database.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
