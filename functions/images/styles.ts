// The styles a request may ask for, and the limits the webhook enforces before any work starts.
// The renderer can draw any style name (the benchmark fans out to dozens of synthetic ones); only
// requests arriving through the webhook are held to this list.
export const KNOWN_STYLES = [
  "photorealistic",
  "cartoon",
  "abstract",
  "watercolor",
  "pixel-art",
  "line-art",
  "neon",
  "sepia",
] as const;

export type KnownStyle = (typeof KNOWN_STYLES)[number];

export const DEFAULT_STYLES: readonly KnownStyle[] = ["photorealistic", "cartoon", "abstract"];

/** More than this many images per request is refused: each style is a paid provider call. */
export const MAX_STYLES = 6;

/** OpenAI's limit for gpt-image-1 prompts is 32k characters, dall-e-3 4000; we take the stricter one. */
export const MAX_PROMPT_CHARS = 4000;

export function isKnownStyle(s: string): s is KnownStyle {
  return (KNOWN_STYLES as readonly string[]).includes(s);
}
