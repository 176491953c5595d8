// GET /functions/v1/runs/<workflow id>: a run's status and progress, for clients that poll.
// GET /functions/v1/runs?kind=&status=&limit=: recent runs. Callers send the service role key: runs and
// their errors (which quote file lines, URLs and emails) are for operators, and the anon key is public.
import { getRun, listRuns, parseFilter } from "../../../functions/operations/runs.ts";
import { loadConfig } from "../../../functions/shared/config.ts";
import { edgeDatabaseUrl, withConnection } from "../../../functions/shared/edge-db.ts";
import { json } from "../../../functions/shared/http.ts";
import { bearerToken, secretsEqual } from "../../../functions/shared/secrets.ts";

const dbUrl = edgeDatabaseUrl(loadConfig());
const keys = [Deno.env.get("SUPABASE_SERVICE_ROLE_KEY")].filter((k): k is string => !!k);

async function authorized(req: Request): Promise<boolean> {
  const token = bearerToken(req);
  if (!token) return false;
  const matches = await Promise.all(keys.map((k) => secretsEqual(token, k)));
  return matches.some(Boolean);
}

Deno.serve(async (req) => {
  if (req.method !== "GET") return json(405, { error: "use GET /functions/v1/runs/<workflow id>" });
  if (!(await authorized(req)))
    return json(401, {
      error:
        "send the service role key as a bearer token; runs and their errors are not public, so the anon key is refused",
    });
  const url = new URL(req.url);
  const id = decodeURIComponent(url.pathname.replace(/^.*?\/runs\/?/, ""));
  try {
    if (id) {
      const run = await withConnection(dbUrl, (c) => getRun(c, id));
      return run ? json(200, run) : json(404, { error: `no workflow ${id}` });
    }
    const filter = parseFilter({
      kind: url.searchParams.get("kind"),
      status: url.searchParams.get("status"),
      limit: url.searchParams.get("limit"),
    });
    if (!filter.ok) return json(400, { error: filter.error });
    return json(200, { runs: await withConnection(dbUrl, (c) => listRuns(c, filter.value)) });
  } catch (err) {
    return json(500, { error: "could not read runs", detail: (err as Error).message });
  }
});
