import { defineConfig } from "vitest/config";

// The Resonate SDK needs Node 22 (Promise.withResolvers). `node_modules/.bin/vitest` started directly
// runs on whatever `node` is first on PATH, which on this machine is Node 20.
if (Number(process.versions.node.split(".")[0]) < 22) {
  throw new Error(
    `tests need Node >= 22 but this is ${process.version}: run \`npm test\`, \`npx vitest run <path>\`, or put node_modules/.bin first on PATH`,
  );
}

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
