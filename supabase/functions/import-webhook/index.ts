// Database Webhook for INSERT on public.import_jobs: authenticates, validates the row (a bad row turns
// `failed` with the reason) and starts workflow `import/<job id>` on the workers, answering 202 at once.
import { importRoute } from "../../../functions/import/route.ts";
import { serveWebhook } from "../../../functions/shared/edge-webhook.ts";

Deno.serve(serveWebhook(importRoute));
