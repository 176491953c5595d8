// The Supabase CLI treats only its own local ports as local and insists on TLS elsewhere (even
// sslmode=prefer fails against a server without it). Our Postgres has no TLS, so loopback URLs say
// sslmode=disable; a remote URL is passed on as given.
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

export function cliUrl(url: string): string {
  const u = new URL(url);
  if (u.searchParams.has("sslmode") || !LOOPBACK.has(u.hostname)) return url;
  u.searchParams.set("sslmode", "disable");
  return u.toString();
}
