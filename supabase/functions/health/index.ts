// GET /functions/v1/health: proves the route works and the function can reach the database, the way
// every other function does (through the pooler when DB_POOLER_URL is set).
import { loadConfig } from "../../../functions/shared/config.ts";
import { edgeDatabaseUrl, withConnection } from "../../../functions/shared/edge-db.ts";

const dbUrl = edgeDatabaseUrl(loadConfig());

Deno.serve(async () => {
  const started = performance.now();
  try {
    const { rows } = await withConnection(dbUrl, (c) =>
      c.query<{ now: string }>("select now()::text as now"),
    );
    return Response.json({
      ok: true,
      database: "reachable",
      db_time: rows[0]!.now,
      ms: Math.round(performance.now() - started),
    });
  } catch (err) {
    return Response.json(
      { ok: false, database: "unreachable", error: (err as Error).message },
      { status: 503 },
    );
  }
});
