// The gallery as plain text, for where the HTML page cannot be served: hosted Edge Functions turn a
// text/html answer into text/plain unless the project has a custom domain, and the page's markup would
// show as text. Same rows, same order, readable as they are.

import { truncate } from "../shared/truncate.ts";
import { showBidiControls } from "./bidi.ts";
import type { GalleryImage, GalleryRequest } from "./gallery.ts";

/** One line: what people typed may hold newlines and tabs. Other control characters are written out,
 *  since a terminal showing this (curl) would act on them: ESC sequences clear, recolour or retitle it. */
const flat = (s: string) =>
  s
    .replace(/\s+/g, " ")
    .trim()
    .replace(/\p{Cc}/gu, (c) => `<U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}>`);

export const PLAIN_TEXT_NOTE = [
  "This is the gallery as plain text: hosted Edge Functions serve text/html only through a custom domain.",
  "The same data as JSON: ?format=json. The HTML page: ?format=html, through a custom domain or on the",
  "local stack (GALLERY_HTML=true makes it the default there; see docs/images.md).",
].join("\n");

function image(img: GalleryImage): string {
  const facts = [
    `${img.attempts} call${img.attempts === 1 ? "" : "s"}`,
    img.duration_ms !== null ? `${img.duration_ms} ms` : "",
    img.width && img.height ? `${img.width}x${img.height}` : "",
    img.status === "succeeded" && img.url ? img.url : "",
    img.error ? `error: ${flat(img.error)}` : "",
  ].filter(Boolean);
  return `  - ${img.style} [${img.status.replace("_", " ")}] ${facts.join(" · ")}`;
}

function request(r: GalleryRequest): string {
  const prompt = showBidiControls(flat(r.prompt));
  return [
    `${truncate(prompt, 200, "…")} [${r.status.replace("_", " ")}]`,
    `  ${r.created_at}${r.duration_ms !== null ? ` · ${r.duration_ms} ms` : ""} · images/${r.id}`,
    ...(r.error ? [`  error: ${flat(r.error)}`] : []),
    ...r.images.map(image),
  ].join("\n");
}

export function renderGalleryText(requests: GalleryRequest[]): string {
  const active = requests.some((r) => r.status === "queued" || r.status === "running");
  const body =
    requests.length === 0
      ? "No image requests yet. Insert one: insert into image_requests (prompt) values ('a lighthouse at dusk');"
      : requests.map(request).join("\n\n");
  return `Image requests, most recent first${active ? " (some still running: reload to update)" : ""}

${PLAIN_TEXT_NOTE}

${body}
`;
}
