// Brings the local stack up once before the suite (idempotent, fast when already up) and exports its
// environment to every test file. The worker that `npm start` leaves running is stopped first: tests
// start and kill their own workers in group "workers", and a long-lived one would take their tasks.

import { stackEnv } from "../../scripts/stack/env.ts";
import { stopProcess } from "../../scripts/stack/processes.ts";
import { up } from "../../scripts/stack.ts";

export default async function setup(): Promise<void> {
  if (await stopProcess("worker"))
    console.error("test setup: stopped the stack's worker (npm start restarts it)");
  await up();
  Object.assign(process.env, stackEnv());
}
