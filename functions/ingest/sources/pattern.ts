// User-supplied URL patterns (a sitemap source's `include`). JavaScript's RegExp backtracks, so a
// pattern like /(a+)+$/ takes time exponential in the URL's length on the worker's event loop. RE2's
// engine (re2js, pure JavaScript) matches in time linear in the input, whatever the pattern; it lacks
// backreferences and lookaround, which are refused here with the engine's own reason.
import { RE2JS } from "re2js";
import { SourceConfigError } from "./config.ts";

export interface UrlPattern {
  test(url: string): boolean;
}

/** Long enough for any real URL filter, short enough that compiling one costs nothing. */
export const MAX_PATTERN_LENGTH = 1000;

export function compileUrlPattern(field: string, source: string): UrlPattern {
  if (source.length > MAX_PATTERN_LENGTH) {
    throw new SourceConfigError(
      `config.${field} is ${source.length} characters long; at most ${MAX_PATTERN_LENGTH} are allowed`,
    );
  }
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (err) {
    throw new SourceConfigError(
      `config.${field} must be a regular expression in RE2 syntax (no backreferences or lookaround), got ${JSON.stringify(source)}: ${(err as Error).message}`,
    );
  }
  return { test: (url) => re.matcher(url).find() };
}
