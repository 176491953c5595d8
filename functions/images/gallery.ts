// The gallery page: recent requests with their images, styles, statuses and errors. Pure rendering
// of rows the `gallery` Edge Function reads; every value from the database is HTML-escaped.

import { truncate } from "../shared/truncate.ts";
import { showBidiControls } from "./bidi.ts";

export interface GalleryImage {
  style: string;
  status: string;
  url: string | null;
  width: number | null;
  height: number | null;
  attempts: number;
  duration_ms: number | null;
  error: string | null;
}

export interface GalleryRequest {
  id: string;
  prompt: string;
  status: string;
  error: string | null;
  created_at: string;
  duration_ms: number | null;
  images: GalleryImage[];
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STATUS_COLORS: Record<string, string> = {
  queued: "#6b7280",
  pending: "#6b7280",
  running: "#2563eb",
  succeeded: "#16a34a",
  partially_succeeded: "#d97706",
  failed: "#dc2626",
};

function badge(status: string): string {
  const color = STATUS_COLORS[status] ?? "#6b7280";
  return `<span class="badge" style="background:${color}">${escapeHtml(status.replace("_", " "))}</span>`;
}

function image(img: GalleryImage): string {
  const picture =
    img.status === "succeeded" && img.url
      ? `<img src="${escapeHtml(img.url)}" alt="${escapeHtml(img.style)}" width="192" height="192">`
      : `<div class="placeholder">${img.status === "failed" ? "&#10007;" : "&hellip;"}</div>`;
  const facts = [
    `${img.attempts} call${img.attempts === 1 ? "" : "s"}`,
    img.duration_ms !== null ? `${img.duration_ms} ms` : "",
    img.width && img.height ? `${img.width}&times;${img.height}` : "",
  ].filter(Boolean);
  return `<figure class="image">${picture}<figcaption><b>${escapeHtml(img.style)}</b> ${badge(img.status)}<br><small>${facts.join(" · ")}</small>${
    img.error ? `<div class="error">${escapeHtml(img.error)}</div>` : ""
  }</figcaption></figure>`;
}

function request(r: GalleryRequest): string {
  return `<section class="request" data-status="${escapeHtml(r.status)}">
<header><h2>${escapeHtml(showBidiControls(truncate(r.prompt, 200, "…")))}</h2>${badge(r.status)}
<small>${escapeHtml(r.created_at)}${r.duration_ms !== null ? ` · ${r.duration_ms} ms` : ""} · <code>images/${escapeHtml(r.id)}</code></small></header>
${r.error ? `<div class="error">${escapeHtml(r.error)}</div>` : ""}
<div class="images">${r.images.map(image).join("")}</div>
</section>`;
}

export function renderGallery(requests: GalleryRequest[]): string {
  const active = requests.some((r) => r.status === "queued" || r.status === "running");
  // Invisible as a page; the first thing anyone reads where the platform served it as text/plain.
  return `<!doctype html>
<!-- If you can read this line, this page reached you as text/plain: hosted Edge Functions serve text/html only through a custom domain. Open ?format=text or ?format=json instead (docs/images.md). -->
<html lang="en"><head><meta charset="utf-8"><title>Image requests</title>
${active ? '<meta http-equiv="refresh" content="2">' : ""}
<style>
body{font:14px system-ui,sans-serif;margin:24px;background:#f8fafc;color:#0f172a}
h1{font-size:22px}h2{font-size:16px;margin:0 8px 0 0;display:inline;overflow-wrap:anywhere}
.request{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:16px;margin:0 0 16px}
.request header small{display:block;color:#64748b;margin-top:4px}
.badge{color:#fff;border-radius:999px;padding:1px 8px;font-size:12px}
.images{display:flex;flex-wrap:wrap;gap:12px;margin-top:12px}
.image{margin:0;width:192px}.image img,.placeholder{width:192px;height:192px;border-radius:6px;display:block}
.placeholder{background:#e2e8f0;color:#94a3b8;font-size:48px;text-align:center;line-height:192px}
.error{color:#b91c1c;background:#fef2f2;border:1px solid #fecaca;border-radius:6px;padding:6px 8px;margin-top:6px;font-size:12px;word-break:break-word}
</style></head>
<body><h1>Image requests</h1>
${requests.length === 0 ? "<p class=\"empty\">No image requests yet. Insert one: <code>insert into image_requests (prompt) values ('a lighthouse at dusk');</code></p>" : requests.map(request).join("\n")}
</body></html>`;
}
