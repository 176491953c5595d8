// `npm run demo [import|images|ingest]`: runs each workload's demo against the running stack (start it
// with `npm start` first). Each demo lives in scripts/demo/<workload>.ts and exports `demo()`.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { stackEnv } from "./stack/env.ts";
import { ROOT } from "./stack/layout.ts";

const ALL = ["import", "images", "ingest"];

async function main(): Promise<void> {
  Object.assign(process.env, { ...stackEnv(), ...process.env });
  const wanted = process.argv.slice(2).length ? process.argv.slice(2) : ALL;
  for (const name of wanted) {
    if (!ALL.includes(name)) throw new Error(`unknown demo ${name}; choose from ${ALL.join(", ")}`);
    const file = join(ROOT, "scripts", "demo", `${name}.ts`);
    if (!existsSync(file)) {
      console.log(`\n== ${name}: no demo yet`);
      continue;
    }
    console.log(`\n== ${name}`);
    const mod = (await import(file)) as { demo: () => Promise<void> };
    await mod.demo();
  }
}

main().catch((err) => {
  console.error(`demo: ${(err as Error).message}`);
  process.exit(1);
});
