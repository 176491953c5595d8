// What the deploy says about the gallery: hosted Edge Functions serve text/html only through a custom
// domain (without one the platform rewrites it to text/plain), so on a project without one the gallery
// answers plain text and JSON, and its HTML page needs the domain.

export function galleryNote(ref: string, customDomain: string | undefined): string {
  const url = `https://${ref}.supabase.co/functions/v1/gallery`;
  const lines = customDomain
    ? [
        `gallery: https://${customDomain}/functions/v1/gallery shows the HTML page (GALLERY_HTML=true, as`,
        "--custom-domain asks). Hosted Edge Functions serve text/html only through the custom domain:",
        `${url} shows the page's markup as text,`,
        "headed by a line saying so; ?format=text and ?format=json work on either.",
      ]
    : [
        `gallery: ${url} answers plain text (JSON with ?format=json):`,
        "hosted Edge Functions rewrite text/html to text/plain unless the project has a custom domain (a paid",
        "add-on), and Storage serves HTML as plain text too. With a custom domain, deploy again with",
        "--custom-domain <host> and open the page through it (docs/images.md).",
      ];
  return `\n${lines.map((line) => `# ${line}`).join("\n")}`;
}
