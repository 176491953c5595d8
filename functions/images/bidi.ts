// Unicode direction controls in what people type: embeddings and overrides (U+202A-U+202E) and isolates
// (U+2066-U+2069) reorder the text shown after them, so a prompt holding U+202E reads reversed. The
// plain marks U+200E/U+200F change nothing around them and are left alone.
export const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069]/;
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;

/** The text with each direction control written out as `<U+202E>`, so it shows what was typed. */
export function showBidiControls(text: string): string {
  return text.replace(BIDI_CONTROLS, (c) => `<U+${c.codePointAt(0)!.toString(16).toUpperCase()}>`);
}
