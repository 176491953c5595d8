// GET /functions/v1/gallery: the most recent image requests (?limit=1..100, default 20) with their images,
// styles, statuses and errors, as an HTML page, plain text or JSON (?format=html|text|json; the default is
// the page where GALLERY_HTML=true, plain text elsewhere: functions/images/gallery-answer.ts). Reads the
// tables directly; starts nothing.

import { galleryServesHtml } from "../../../functions/images/config.ts";
import type { GalleryRequest } from "../../../functions/images/gallery.ts";
import { galleryFormat, galleryResponse } from "../../../functions/images/gallery-answer.ts";
import { corsHeaders } from "../../../functions/shared/cors.ts";
import { edgeDeps } from "../../../functions/shared/edge-function.ts";
import { endpoint } from "../../../functions/shared/endpoint.ts";

const QUERY = `
  select r.id, r.prompt, r.status, r.error, to_char(r.created_at at time zone 'utc', 'YYYY-MM-DD HH24:MI:SS "UTC"') as created_at,
         r.duration_ms,
         coalesce((select json_agg(json_build_object(
                    'style', g.style, 'status', g.status, 'url', g.url, 'width', g.width, 'height', g.height,
                    'attempts', g.attempts, 'duration_ms', g.duration_ms, 'error', g.error)
                    order by array_position(r.styles, g.style))
                     from public.generated_images g where g.request_id = r.id), '[]') as images
    from public.image_requests r
   order by r.created_at desc
   limit $1`;

const deps = edgeDeps(({ db }) => ({ db, servesHtml: galleryServesHtml() }));

Deno.serve(
  endpoint(
    {
      method: "GET",
      usage: "use GET",
      // Its JSON is for pages on any origin, which can read its errors only with these too.
      headers: corsHeaders("GET"),
      failure: { status: 503, error: "could not read image requests" },
      async handle(req, { db, servesHtml }) {
        const params = new URL(req.url).searchParams;
        const format = galleryFormat(params.get("format"), servesHtml);
        if (!format.ok) return Response.json({ error: format.error }, { status: 400 });
        const raw = params.get("limit") ?? "20";
        const limit = Number(raw);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
          return Response.json(
            { error: `limit must be an integer from 1 to 100, got ${JSON.stringify(raw)}` },
            { status: 400 },
          );
        }
        const { rows } = await db((c) => c.query<GalleryRequest>(QUERY, [limit]));
        return galleryResponse(rows, format.format);
      },
    },
    deps,
  ),
);
