// The skeleton every Edge Function's request goes through: the method check, the dependencies built on
// first use, the bearer secret when the function has one, and one mapping from a thrown error to an
// answer. A function supplies only what it does with a request. Pure: dependencies are injected, so
// handlers built on it are unit-tested without a database (edge-function.ts wires the real ones).

import { HttpError, json } from "./http.ts";
import { errorMessage } from "./log.ts";
import { bearerToken, secretsEqual } from "./secrets.ts";

/** What a request that failed unexpectedly is answered: `{error, detail}` with this status. */
export interface Failure {
  status: number;
  error: string;
}

export interface Endpoint<D> {
  /** The one method served; any other is answered 405 with `usage`. Unset: every method. */
  method?: "GET" | "POST";
  usage?: string;
  /** When set, a request must carry this secret as its bearer token, else 401 with `refusal`. */
  secret?(deps: D): string | undefined;
  refusal?: string;
  failure: Failure;
  handle(req: Request, deps: D): Promise<Response>;
}

/** A thrown HttpError answers with its own status and message; anything else with `failure`. */
export function errorResponse(err: unknown, failure: Failure): Response {
  if (err instanceof HttpError) return json(err.status, { error: err.message });
  return json(failure.status, { error: failure.error, detail: errorMessage(err) });
}

export function endpoint<D>(spec: Endpoint<D>, deps: () => Promise<D>): (req: Request) => Promise<Response> {
  return async (req) => {
    if (spec.method && req.method !== spec.method) {
      return json(405, { error: spec.usage ?? `use ${spec.method}` });
    }
    try {
      const d = await deps();
      if (spec.secret) {
        const expected = spec.secret(d) ?? "";
        const token = bearerToken(req);
        if (!token || !(await secretsEqual(token, expected))) {
          return json(401, { error: spec.refusal ?? "missing or wrong bearer secret" });
        }
      }
      return await spec.handle(req, d);
    } catch (err) {
      return errorResponse(err, spec.failure);
    }
  };
}

/** Builds on first use and keeps the result; a build that fails is tried again on the next call. */
export function lazy<D>(build: () => D | Promise<D>): () => Promise<D> {
  let built: Promise<D> | undefined;
  return () => {
    built ??= Promise.resolve()
      .then(build)
      .catch((err) => {
        built = undefined;
        throw err;
      });
    return built;
  };
}
