// How an inserted image_requests row becomes the workflow `images/<id>`: the webhook route the
// `images-webhook` Edge Function serves. The workflow receives only the id and reads the row itself.
import type { WebhookRoute } from "../shared/webhook.ts";
import { type ImageRequestInput, validateImageRequest } from "./validate.ts";

export const imagesRoute: WebhookRoute<ImageRequestInput> = {
  table: "public.image_requests",
  kind: "images",
  workflow: "generateImages",
  validate: validateImageRequest,
  rowId: (record) => (typeof record.id === "string" && record.id !== "" ? record.id : undefined),
  args: (value) => [value.id],
};
