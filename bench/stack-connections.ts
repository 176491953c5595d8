// `npm run bench:stack-connections`: how many database connections the running local stack holds at
// rest and at its peak while 100 rows arrive at once through the real trigger path (INSERT ->
// pg_net -> Edge Function -> workflow -> one worker). Counted in pg_stat_activity by who holds them:
// the Edge Functions reach the database through the pooler, so theirs are pgbouncer's server
// connections; the worker's are direct. A hosted small instance allows about 60. The sampler's own
// connection is left out; pg_cron's and the pg_net dispatcher's are counted.
import { execFileSync } from "node:child_process";
import pg from "pg";
import { DB_PORT } from "../scripts/stack/layout.ts";
import { DB_URL, withAdmin } from "../test/support/db.ts";
import { startLoopbackServer } from "../test/support/http-server.ts";
import { contactsCsv } from "../test/support/import/harness.ts";
import { startWorker } from "../test/support/worker.ts";
import { type Row, report } from "./lib/report.ts";

const ROWS = 100;

interface Sample {
  total: number;
  byWho: Record<string, number>;
}

/** Which process owns the client end of each connection to Postgres, by its local port (from `ss`). */
function owners(workerPid: number | undefined): Map<number, string> {
  const out = new Map<number, string>();
  const text = execFileSync("ss", ["-Htnp", "state", "established", `( dport = :${DB_PORT} )`], {
    encoding: "utf8",
  });
  for (const line of text.split("\n")) {
    const m = /127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:\d+\s+users:\(\("([^"]+)",pid=(\d+)/.exec(line);
    if (!m) continue;
    const [, port, name, pid] = m;
    const who =
      Number(pid) === workerPid
        ? "worker"
        : name === "pgbouncer"
          ? "pooler (for the functions)"
          : name === "deno"
            ? "deno, direct (Storage stand-in or a function without the pooler)"
            : `other (${name})`;
    out.set(Number(port), who);
  }
  return out;
}

async function sample(c: pg.Client, workerPid: number | undefined): Promise<Sample> {
  const { rows } = await c.query<{ port: number | null }>(
    `select client_port as port from pg_stat_activity
      where backend_type = 'client backend' and pid <> pg_backend_pid() and datname = 'postgres'`,
  );
  const byPort = owners(workerPid);
  const byWho: Record<string, number> = {};
  for (const r of rows) {
    const who = r.port === null ? "local socket" : (byPort.get(r.port) ?? "closed meanwhile");
    byWho[who] = (byWho[who] ?? 0) + 1;
  }
  return { total: rows.length, byWho };
}

async function main(): Promise<void> {
  const tag = `conn-${Date.now()}`;
  const csv = contactsCsv(20, tag);
  const server = await startLoopbackServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/csv" }).end(csv);
  });
  const worker = startWorker();
  const app = new pg.Client({ connectionString: DB_URL });
  await app.connect();
  const rows: Row[] = [];
  try {
    await worker.waitForOutput('"started"');
    await new Promise((r) => setTimeout(r, 2_000));
    const rest = await withAdmin((c) => sample(c, worker.proc.pid));
    let peak: Sample = rest;
    let done = false;
    const sampler = withAdmin(async (c) => {
      while (!done) {
        const s = await sample(c, worker.proc.pid);
        if (s.total > peak.total) peak = s;
        await new Promise((r) => setTimeout(r, 25));
      }
    });
    const { rows: jobs } = await app.query<{ id: string }>(
      `insert into public.import_jobs (source_url, format, target, batch_size)
       select $1 || '/' || g || '.csv', 'csv', 'contacts', 10 from generate_series(1, $2) g returning id`,
      [server.url, ROWS],
    );
    const ids = jobs.map((j) => j.id);
    const deadline = Date.now() + 180_000;
    for (;;) {
      const { rows: open } = await app.query<{ n: number }>(
        "select count(*)::int as n from public.import_jobs where id = any($1) and status not in ('succeeded', 'partially_succeeded', 'failed')",
        [ids],
      );
      if (open[0]!.n === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    done = true;
    await sampler;
    const fmt = (s: Sample) =>
      Object.entries(s.byWho)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${v} ${k}`)
        .join(", ");
    rows.push({ moment: "at rest (worker idle)", connections: rest.total, "who holds them": fmt(rest) });
    rows.push({
      moment: `peak, ${ROWS} rows inserted at once`,
      connections: peak.total,
      "who holds them": fmt(peak),
    });
    await app.query("delete from public.import_jobs where id = any($1)", [ids]);
    await app.query("delete from public.contacts where email like $1", [`%@${tag}.test`]);
  } finally {
    await app.end();
    await worker.kill("SIGTERM");
    await server.close();
  }
  report(
    "stack-connections",
    `Database connections of the local stack, at rest and during a burst of ${ROWS} inserted rows`,
    rows,
    "Connections to the `postgres` database in pg_stat_activity, the sampler's own excluded, sampled every 25 ms " +
      "until every job finished. One worker; pg_cron and the pg_net dispatcher included.",
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
