// GET /functions/v1/health: proves the route works and the function can reach the database, the way
// every other function does (through the pooler when DB_POOLER_URL is set). Any method is answered.
import { edgeDeps } from "../../../functions/shared/edge-function.ts";
import { endpoint } from "../../../functions/shared/endpoint.ts";
import { errorMessage } from "../../../functions/shared/log.ts";

const deps = edgeDeps((ctx) => ctx);

Deno.serve(
  endpoint(
    {
      failure: { status: 503, error: "the health check could not run" },
      async handle(_req, { db }) {
        const started = performance.now();
        // An unreachable database is this function's answer, not its failure.
        try {
          const { rows } = await db((c) => c.query<{ now: string }>("select now()::text as now"));
          return Response.json({
            ok: true,
            database: "reachable",
            db_time: rows[0]!.now,
            ms: Math.round(performance.now() - started),
          });
        } catch (err) {
          return Response.json(
            { ok: false, database: "unreachable", error: errorMessage(err) },
            { status: 503 },
          );
        }
      },
    },
    deps,
  ),
);
