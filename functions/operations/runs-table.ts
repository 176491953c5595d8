// Turns runs into what a person reads in a terminal: a table with progress bars on a TTY, one plain
// line per run otherwise (for logs and pipes). Pure, so it is unit-tested.
import { tail, truncate } from "../shared/truncate.ts";
import type { WorkflowRun } from "./runs.ts";

export function progressBar(done: number | null, total: number | null, width = 20): string {
  if (done === null || total === null || total <= 0) return `[${" ".repeat(width)}]`;
  const filled = Math.min(width, Math.round((done / total) * width));
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  return m < 60 ? `${m}m${Math.round((ms % 60_000) / 1000)}s` : `${Math.floor(m / 60)}h${m % 60}m`;
}

const fraction = (r: WorkflowRun) => (r.total === null ? "-" : `${r.done ?? 0}/${r.total} ${r.unit}`);

export function plainLine(r: WorkflowRun): string {
  const parts = [
    r.workflow_id,
    r.status,
    fraction(r),
    formatDuration(r.duration_ms),
    `attempts=${r.attempts}`,
  ];
  if (r.retries) parts.push(`retries=${r.retries}`);
  if (r.last_error) parts.push(`error=${JSON.stringify(r.last_error)}`);
  return parts.join(" ");
}

export function table(runs: WorkflowRun[], width = 120): string {
  if (runs.length === 0) return "no runs match";
  const idWidth = Math.max(12, Math.min(48, ...[Math.max(...runs.map((r) => r.workflow_id.length))]));
  const head = `${"WORKFLOW".padEnd(idWidth)}  ${"STATUS".padEnd(19)}  ${"PROGRESS".padEnd(22)} ${"DONE".padEnd(16)}  ${"TIME".padEnd(8)}  ERROR`;
  const lines = runs.map((r) => {
    const id =
      r.workflow_id.length > idWidth
        ? `…${tail(r.workflow_id, idWidth - 1)}`.padEnd(idWidth)
        : r.workflow_id.padEnd(idWidth);
    const row = `${id}  ${r.status.padEnd(19)}  ${progressBar(r.done, r.total)}  ${fraction(r).padEnd(16)}  ${formatDuration(r.duration_ms).padEnd(8)}`;
    const clip = (l: string) => (l.length > width ? truncate(l, width - 1, "…") : l);
    if (!r.last_error) return clip(row.trimEnd());
    const line = `${row}  ${r.last_error}`;
    // On a narrow terminal the error column would be cut off entirely: it gets a line of its own.
    return line.length <= width ? line : `${clip(row.trimEnd())}\n${clip(`    ${r.last_error}`)}`;
  });
  return [head, ...lines].join("\n");
}
