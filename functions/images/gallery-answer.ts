// How the gallery answers: an HTML page, plain text or JSON of the same rows. Hosted Edge Functions serve
// text/html only through a custom domain (otherwise they rewrite it to text/plain and the markup shows as
// text), so the page is the default only where GALLERY_HTML=true says it will render: the local stack, or
// a project called through its custom domain. Everywhere else the default is plain text, and JSON
// (?format=json; the function's CORS headers make it readable from any origin) lets any page or the CLI
// render the same data.
import { type GalleryRequest, renderGallery } from "./gallery.ts";
import { renderGalleryText } from "./gallery-text.ts";

export type GalleryFormat = "html" | "text" | "json";

const FORMATS: GalleryFormat[] = ["html", "text", "json"];

export function galleryFormat(
  requested: string | null,
  servesHtml: boolean,
): { ok: true; format: GalleryFormat } | { ok: false; error: string } {
  if (requested === null || requested === "") return { ok: true, format: servesHtml ? "html" : "text" };
  if ((FORMATS as string[]).includes(requested)) return { ok: true, format: requested as GalleryFormat };
  return {
    ok: false,
    error: `format must be one of ${FORMATS.join(", ")}, got ${JSON.stringify(requested)}`,
  };
}

export function galleryResponse(requests: GalleryRequest[], format: GalleryFormat): Response {
  switch (format) {
    case "html":
      return new Response(renderGallery(requests), {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
    case "text":
      return new Response(renderGalleryText(requests), {
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    case "json":
      return Response.json({ requests });
  }
}
