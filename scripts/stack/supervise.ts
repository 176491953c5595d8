// Keeps one stack process running: restarts it when it exits unexpectedly (say, a function that let a
// database restart's connection error escape), with a growing pause so a crash loop stays visible in
// the log without spinning. SIGTERM/SIGINT are passed on and end the supervision.
import { spawn } from "node:child_process";

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error("usage: supervise.ts <command> [args...]");
  process.exit(2);
}

let stopping = false;
let child: ReturnType<typeof spawn> | undefined;
let pauseMs = 500;

function run(): void {
  const started = Date.now();
  child = spawn(cmd!, args, { stdio: "inherit" });
  child.on("exit", (code, signal) => {
    if (stopping) process.exit(0);
    // A process that stayed up a while crashed once; start over with a short pause.
    pauseMs = Date.now() - started > 30_000 ? 500 : Math.min(pauseMs * 2, 10_000);
    console.log(
      JSON.stringify({
        ts: new Date().toISOString(),
        component: "supervisor",
        event: "restarting",
        cmd,
        code,
        signal,
        pause_ms: pauseMs,
      }),
    );
    setTimeout(run, pauseMs);
  });
}

for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.on(sig, () => {
    stopping = true;
    if (!child || child.exitCode !== null) process.exit(0);
    child.kill(sig);
  });
}

run();
