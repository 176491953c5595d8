// The skeleton every Edge Function's request goes through: the method check, the request read and
// checked before anything is connected, the dependencies built on first use, the bearer secret when the
// function has one, and one mapping from a thrown error to an answer. A function supplies only what it
// does with a request. Pure: dependencies are injected, so handlers built on it are unit-tested without
// a database (edge-function.ts wires the real ones).

import { HttpError, json } from "./http.ts";
import { createLogger, errorMessage, type Logger } from "./log.ts";
import { bearerToken, secretsEqual } from "./secrets.ts";

/** What a request that failed unexpectedly is answered: `{error, detail}` with this status. */
export interface Failure {
  status: number;
  error: string;
  /** Answer `{error}` alone: the error's own text (a database's, a provider's) stays in the log. */
  withoutDetail?: boolean;
}

export interface Endpoint<D, I = undefined> {
  /** The one method served; any other is answered 405 with `usage`. Unset: every method. */
  method?: "GET" | "POST";
  usage?: string;
  /** Headers every answer carries (CORS); with them, OPTIONS is answered 204, as a browser's preflight. */
  headers?: Record<string, string>;
  /** Reads and checks the request; throw an HttpError to refuse it. Without a secret it runs before the
   *  dependencies are built, so a bad request costs no connection; with one, after the secret check. */
  input?(req: Request): Promise<I>;
  /** When set, a request must carry this secret as its bearer token, else 401 with `refusal`. */
  secret?(deps: D): string | undefined;
  refusal?: string;
  failure: Failure;
  handle(req: Request, deps: D, input: I): Promise<Response>;
}

/** A thrown HttpError answers with its own status and message; anything else with `failure`. */
export function errorResponse(
  err: unknown,
  failure: Failure,
  headers: Record<string, string> = {},
): Response {
  if (err instanceof HttpError) return json(err.status, { error: err.message }, headers);
  if (failure.withoutDetail) return json(failure.status, { error: failure.error }, headers);
  return json(failure.status, { error: failure.error, detail: errorMessage(err) }, headers);
}

export function endpoint<D, I = undefined>(
  spec: Endpoint<D, I>,
  deps: () => Promise<D>,
  log: Logger = createLogger({ component: "edge-function" }),
): (req: Request) => Promise<Response> {
  const headers = spec.headers ?? {};
  return async (req) => {
    if (spec.headers && req.method === "OPTIONS") return new Response(null, { status: 204, headers });
    if (spec.method && req.method !== spec.method) {
      return json(405, { error: spec.usage ?? `use ${spec.method}` }, headers);
    }
    try {
      const read = async () => (spec.input ? await spec.input(req) : undefined) as I;
      let input = spec.secret ? undefined : await read();
      const d = await deps();
      if (spec.secret) {
        const expected = spec.secret(d) ?? "";
        const token = bearerToken(req);
        if (!token || !(await secretsEqual(token, expected))) {
          return json(401, { error: spec.refusal ?? "missing or wrong bearer secret" }, headers);
        }
        input = await read();
      }
      const res = await spec.handle(req, d, input as I);
      for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
      return res;
    } catch (err) {
      if (!(err instanceof HttpError)) log.error(spec.failure.error, { error: errorMessage(err) });
      return errorResponse(err, spec.failure, headers);
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
