// The process tree below a stack supervisor (scripts/stack/supervise.ts), read from /proc: the faults
// kill the supervised process itself, never its supervisor, so it comes back the way it would in a
// deployment; the monitor reads memory from the same processes.
import { readdirSync, readFileSync } from "node:fs";

export function children(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) =>
      readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** Every process below the supervisor: the server and what it runs (`runuser`'s pgbouncer, the functions
 * server's isolates). Killing them all is the server crashing; killing only the top one would leave a
 * pgbouncer behind holding the port. */
export function supervisedTree(supervisor: number): number[] {
  const out: number[] = [];
  const visit = (pid: number) => {
    for (const c of children(pid)) {
      out.push(c);
      visit(c);
    }
  };
  visit(supervisor);
  return out;
}

/** SIGKILLs the supervised processes; returns the pids killed (none when it was between restarts). */
export function crash(supervisor: number): number[] {
  const pids = supervisedTree(supervisor);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  return pids;
}

/** Resident and peak resident memory in KiB (VmRSS, VmHWM), or undefined once the process is gone. */
export function memoryKiB(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
    return { rss: field("VmRSS"), hwm: field("VmHWM") };
  } catch {
    return undefined;
  }
}
