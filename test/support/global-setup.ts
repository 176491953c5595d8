// Brings the local stack up once before the suite (idempotent, fast when already up) and exports its
// environment to every test file.
import { up } from "../../scripts/stack.ts";
import { stackEnv } from "../../scripts/stack/env.ts";

export default async function setup(): Promise<void> {
  await up();
  Object.assign(process.env, stackEnv());
}
