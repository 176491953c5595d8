// GET /functions/v1/runs/<workflow id>: a run's status and progress, for clients that poll.
// GET /functions/v1/runs?kind=&status=&limit=: recent runs. Callers send the service role key: runs and
// their errors (which quote file lines, URLs and emails) are for operators, and the anon key is public.
import { getRun, listRuns, parseFilter } from "../../../functions/operations/runs.ts";
import { edgeDeps } from "../../../functions/shared/edge-function.ts";
import { endpoint } from "../../../functions/shared/endpoint.ts";
import { json } from "../../../functions/shared/http.ts";

const deps = edgeDeps((ctx) => ctx);

Deno.serve(
  endpoint(
    {
      method: "GET",
      usage: "use GET /functions/v1/runs/<workflow id>",
      secret: ({ cfg }) => cfg.serviceRoleKey,
      refusal:
        "send the service role key as a bearer token; runs and their errors are not public, so the anon key is refused",
      failure: { status: 500, error: "could not read runs" },
      async handle(req, { db }) {
        const url = new URL(req.url);
        let id: string;
        try {
          id = decodeURIComponent(url.pathname.replace(/^.*?\/runs\/?/, ""));
        } catch {
          return json(400, {
            error:
              "the workflow id in the path is not valid percent-encoding; encode it with encodeURIComponent",
          });
        }
        // Postgres text cannot hold NUL: the lookup would fail with the database's error (a 500).
        if (id.includes("\u0000")) return json(400, { error: "the workflow id must not contain NUL (%00)" });
        if (id) {
          const run = await db((c) => getRun(c, id));
          return run ? json(200, run) : json(404, { error: `no workflow ${id}` });
        }
        const filter = parseFilter({
          kind: url.searchParams.get("kind"),
          status: url.searchParams.get("status"),
          limit: url.searchParams.get("limit"),
        });
        if (!filter.ok) return json(400, { error: filter.error });
        return json(200, { runs: await db((c) => listRuns(c, filter.value)) });
      },
    },
    deps,
  ),
);
