// Reads an environment variable in Node and in Deno (Edge Functions) alike.
declare const Deno: { env: { get(name: string): string | undefined } } | undefined;

export function readEnv(name: string): string | undefined {
  if (typeof Deno !== "undefined") return Deno.env.get(name);
  return process.env[name];
}
