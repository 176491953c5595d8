// Splits a multipart/form-data body into its parts. supabase-js uploads a Blob or File as form data whose
// file part has an empty field name, and Deno's Request.formData() drops such parts, so the Storage API
// stand-in reads the body with this instead.
import { Buffer } from "node:buffer";

export interface FormPart {
  name: string;
  /** Set for a file part (even when empty), unset for a plain field. */
  filename: string | undefined;
  contentType: string | undefined;
  data: Uint8Array;
}

export function parseMultipart(body: Uint8Array, contentType: string): FormPart[] {
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!boundary) return [];
  const delimiter = Buffer.from(`\r\n--${boundary[1] ?? boundary[2]}`);
  // With a CRLF in front, the first delimiter looks like every other one.
  const buf = Buffer.concat([Buffer.from("\r\n"), body]);
  const parts: FormPart[] = [];
  let at = buf.indexOf(delimiter);
  while (at !== -1) {
    const start = at + delimiter.length;
    if (buf.subarray(start, start + 2).toString() === "--") break;
    const next = buf.indexOf(delimiter, start);
    if (next === -1) break;
    const part = buf.subarray(start + 2, next);
    const headerEnd = part.indexOf("\r\n\r\n");
    if (headerEnd !== -1) {
      const headers = part.subarray(0, headerEnd).toString("utf8");
      const disposition = /^content-disposition:(.*)$/im.exec(headers)?.[1] ?? "";
      parts.push({
        name: /\bname="([^"]*)"/i.exec(disposition)?.[1] ?? "",
        filename: /\bfilename="([^"]*)"/i.exec(disposition)?.[1],
        contentType: /^content-type:\s*(.+)$/im.exec(headers)?.[1]?.trim(),
        data: new Uint8Array(part.subarray(headerEnd + 4)),
      });
    }
    at = next;
  }
  return parts;
}
