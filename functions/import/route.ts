// How an INSERT on import_jobs becomes workflow `import/<job id>`: the generic webhook handler does the
// HTTP work; this says which table, which workflow, and what a valid row is.
import type { WebhookRoute } from "../shared/webhook.ts";
import { type JobSpec, parseJobSpec } from "./job-spec.ts";

export const importRoute: WebhookRoute<JobSpec> = {
  table: "public.import_jobs",
  kind: "import",
  workflow: "importJob",
  validate: parseJobSpec,
  rowId: (record) => (typeof record.id === "string" ? record.id : undefined),
  args: (spec) => [spec.id],
};
