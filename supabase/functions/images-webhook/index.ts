// POST /functions/v1/images-webhook: the Database Webhook for inserts into public.image_requests.
// Validates the row (400 + row marked failed on bad input) and starts the workflow `images/<id>`.

import { imagesRoute } from "../../../functions/images/route.ts";
import { serveWebhook } from "../../../functions/shared/edge-webhook.ts";

Deno.serve(serveWebhook(imagesRoute));
