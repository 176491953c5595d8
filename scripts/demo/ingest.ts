// `npm run demo ingest`: indexes this repository's own docs (README.md and docs/*.md) through the real
// path (POST to the `ingest` Edge Function → worker runs crawlCorpus → processAfterCrawl), then asks the
// `search` Edge Function a few questions. Needs the stack and a worker running (`npm start`).
import pg from "pg";
import { ROOT } from "../stack/layout.ts";

const QUESTIONS = [
  "how do I start the local stack",
  "what happens when the worker is killed during a crawl",
  "how is search ranked",
];

/** The snippet marks the question's words **like this**; on a terminal they are shown bold instead. */
function bold(snippet: string): string {
  return process.stdout.isTTY ? snippet.replace(/\*\*(.+?)\*\*/g, "\x1b[1m$1\x1b[22m") : snippet;
}

export async function demo(): Promise<void> {
  const functionsUrl = process.env.FUNCTIONS_URL!;
  const db = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  try {
    await db.query(
      `insert into ingest_sources (name, kind, config, priority) values
         ('repo-readme', 'markdown_dir', $1, 10), ('repo-docs', 'markdown_dir', $2, 5)
       on conflict (name) do update set config = excluded.config, enabled = true`,
      [{ path: ROOT, recursive: false }, { path: `${ROOT}/docs` }],
    );
    const res = await fetch(`${functionsUrl}/ingest`, {
      method: "POST",
      headers: { authorization: `Bearer ${process.env.WEBHOOK_SECRET}`, "content-type": "application/json" },
      body: JSON.stringify({ force: true, trigger: "demo" }),
    });
    const started = (await res.json()) as { run_id?: string; workflow_id?: string; error?: string };
    if (res.status !== 202 || !started.run_id)
      throw new Error(`ingest answered ${res.status}: ${JSON.stringify(started)}`);
    console.log(`started ${started.workflow_id}`);
    const deadline = Date.now() + 120_000;
    let run: Record<string, unknown> | undefined;
    while (Date.now() < deadline) {
      run = (await db.query("select * from ingest_runs where id = $1", [started.run_id])).rows[0];
      if (run?.status === "succeeded" || run?.status === "failed") break;
      await new Promise((r) => setTimeout(r, 500));
    }
    if (run?.status !== "succeeded")
      throw new Error(`run ${started.run_id} did not succeed (is a worker running?): ${JSON.stringify(run)}`);
    console.log(
      `run ${started.run_id}: ${run.documents_indexed} documents indexed, ${run.documents_unchanged} unchanged, ${run.chunks_indexed} chunks`,
    );
    let note: string | undefined;
    for (const query of QUESTIONS) {
      const r = await fetch(`${functionsUrl}/search`, {
        method: "POST",
        // search keeps the platform's JWT check (supabase/config.toml): the anon key passes it.
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${process.env.SUPABASE_ANON_KEY}`,
        },
        body: JSON.stringify({ query, k: 3 }),
      });
      const body = (await r.json()) as {
        mode: string;
        note?: string;
        results: {
          title: string;
          heading_path: string[];
          url: string | null;
          source_path: string;
          snippet: string;
        }[];
      };
      console.log(`\n? ${query}   (${body.mode === "hybrid" ? "BM25 + vectors" : "BM25"})`);
      // One result per page, so each line is a different page.
      for (const [i, hit] of body.results.entries()) {
        // A markdown document's heading path starts with its own H1, which is usually its title.
        const path = hit.heading_path[0] === hit.title ? hit.heading_path.slice(1) : hit.heading_path;
        console.log(`  ${i + 1}. ${[hit.title, ...path].join(" › ")}  (${hit.url ?? hit.source_path})`);
        console.log(`     ${bold(hit.snippet.replace(/\s+/g, " "))}`);
      }
      if (body.note && body.note !== note) console.log(`  (${body.note})`);
      note = body.note;
    }
  } finally {
    await db.end();
  }
}
