import { defineConfig } from "vitest/config";

// The Resonate SDK needs Node 22 (Promise.withResolvers). `node_modules/.bin/vitest` started directly
// runs on whatever `node` is first on PATH, which on this machine is Node 20.
if (Number(process.versions.node.split(".")[0]) < 22) {
  throw new Error(
    `tests need Node >= 22 but this is ${process.version}: run \`npm test\`, \`npx vitest run <path>\`, or put node_modules/.bin first on PATH`,
  );
}

// Two projects. `unit` (test/unit/, laid out like the code it tests) needs no database, no functions
// server and no stack: `npx vitest run --project unit` runs it in seconds. `integration` (everything
// else) brings the local stack up once and runs against it.
//
// Integration files run one at a time: they share one local stack (one Postgres, one functions server),
// each isolating itself with its own ids or its own database. vitest 3 has one fileParallelism for a
// whole run, so files run in parallel only when the run asks for the unit project alone. Unit files run
// first (groupOrder), so a broken pure function fails before the stack is waited for.
function projectsAsked(argv: string[]): string[] {
  return argv.flatMap((arg, i) => {
    if (arg === "--project") return argv[i + 1] ? [argv[i + 1]!] : [];
    return arg.startsWith("--project=") ? [arg.slice("--project=".length)] : [];
  });
}
const asked = projectsAsked(process.argv);
const unitOnly = asked.length > 0 && asked.every((name) => name === "unit");

export default defineConfig({
  test: {
    fileParallelism: unitOnly,
    // Asked alone, the pure tests share one module graph per thread instead of a process per file
    // (process start-up was most of their time: 28 s against 7 s). vitest 3 takes isolation for a whole
    // run, not per project, so a run with the integration project keeps a process per file.
    ...(unitOnly ? { pool: "threads" as const, isolate: false } : {}),
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          sequence: { groupOrder: 0 },
          // What a test sets with vi.stubEnv is undone after it, so no test sees another's settings.
          unstubEnvs: true,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: ["test/unit/**"],
          globalSetup: ["test/support/global-setup.ts"],
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
