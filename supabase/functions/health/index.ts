// GET /functions/v1/health: proves the route works and the function can reach the database.
import pg from "pg";

Deno.serve(async () => {
  const started = performance.now();
  const client = new pg.Client({ connectionString: Deno.env.get("SUPABASE_DB_URL") });
  try {
    await client.connect();
    const { rows } = await client.query<{ now: string }>("select now()::text as now");
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
  } finally {
    await client.end().catch(() => {});
  }
});
