import { ingestRoute } from "./route.ts";

// Run ids: the UTC date, so every trigger on one day lands on the same durable run (`ingest/<date>`) and
// the next day starts a fresh one; a forced run gets a time suffix and so a new workflow.
export function runIdFor(now: Date, force: boolean): string {
  const iso = now.toISOString();
  const date = iso.slice(0, 10);
  if (!force) return date;
  return `${date}-force-${iso.slice(11, 23).replace(/[:.]/g, "")}`;
}

export function ingestWorkflowId(runId: string): string {
  return `${ingestRoute.kind}/${runId}`;
}

export function isRunId(s: string): boolean {
  return /^\d{4}-\d{2}-\d{2}(-force-\d{9})?$/.test(s);
}
