// The command line of `npm run status`, parsed without touching the terminal or the database: what to
// list, whether to watch and how often, or why the arguments are refused (with the usage to fix them).
import { parseArgs } from "node:util";
import { parseFilter, type RunFilter } from "./runs.ts";

export const USAGE = `usage: npm run status -- [--kind import|images|ingest] [--status <status>] [--limit 1-500]
                         [--watch] [--interval <ms>, 200 to 3600000, default 1000] [--help]`;

/** Below this a watch loop polls the database faster than anyone can read the screen. */
export const MIN_INTERVAL_MS = 200;
export const MAX_INTERVAL_MS = 3_600_000;

export interface StatusOptions {
  filter: RunFilter;
  watch: boolean;
  intervalMs: number;
}

export type StatusArgs =
  | { kind: "run"; options: StatusOptions }
  | { kind: "help"; text: string }
  | { kind: "error"; message: string };

export function parseStatusArgs(argv: string[]): StatusArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        kind: { type: "string" },
        status: { type: "string" },
        limit: { type: "string", default: "20" },
        watch: { type: "boolean", default: false },
        interval: { type: "string", default: "1000" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (err) {
    return { kind: "error", message: `${(err as Error).message}\n${USAGE}` };
  }
  if (values.help) return { kind: "help", text: USAGE };
  const filter = parseFilter({
    kind: values.kind as string | undefined,
    status: values.status as string | undefined,
    limit: values.limit as string,
  });
  if (!filter.ok) return { kind: "error", message: filter.error };
  const raw = values.interval as string;
  const intervalMs = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(intervalMs >= MIN_INTERVAL_MS && intervalMs <= MAX_INTERVAL_MS)) {
    return {
      kind: "error",
      message: `--interval must be a whole number of milliseconds from ${MIN_INTERVAL_MS} to ${MAX_INTERVAL_MS}, got ${JSON.stringify(raw)}`,
    };
  }
  return { kind: "run", options: { filter: filter.value, watch: values.watch === true, intervalMs } };
}

/** What an empty listing says, naming the filter so a typo in it is visible. */
export function noRunsMessage(filter: RunFilter): string {
  const parts = [filter.kind && `kind=${filter.kind}`, filter.status && `status=${filter.status}`].filter(
    Boolean,
  );
  return parts.length > 0 ? `no runs match ${parts.join(" ")}` : "no runs yet";
}

/** The watch screen's first line: when it was drawn and how often it is redrawn. */
export function refreshedLine(at: Date, intervalMs: number): string {
  return `refreshed ${at.toISOString().slice(11, 19)} UTC, every ${intervalMs} ms; Ctrl-C stops`;
}
