// `npm run demo import`: writes a contacts CSV with some bad rows into the import folder, inserts one
// import_jobs row the way an app would, and prints the job's progress until it ends, then the first
// few row errors. Needs the stack and worker (`npm start`).
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import pg from "pg";
import { loadImportConfig } from "../../functions/import/config.ts";
import { loadConfig } from "../../functions/shared/config.ts";

const FINAL = ["succeeded", "partially_succeeded", "failed"];
const ROWS = 20_000;

function demoCsv(tag: string): string {
  const lines = ["email,name,company,country,phone"];
  for (let i = 0; i < ROWS; i++) {
    if (i % 500 === 7)
      lines.push(`person${i}.example.com,Person ${i},Acme,DE,`); // no @
    else if (i % 1000 === 11)
      lines.push(`person${i}@${tag}.example.com,,Acme,DE,`); // no name
    else if (i % 2500 === 13) lines.push(`person${i - 13}@${tag}.example.com,Duplicate ${i},Acme,DE,`);
    else if (i === 4242) lines.push(`person${i}@${tag}.example.com,"Broken quote,Acme,DE,`);
    else lines.push(`person${i}@${tag}.example.com,Person ${i},Company ${i % 50},DE,+49 30 ${1_000_000 + i}`);
  }
  return `${lines.join("\n")}\n`;
}

export async function demo(): Promise<void> {
  const cfg = loadConfig();
  const tag = `demo${Date.now().toString(36)}`;
  const folder = resolve(loadImportConfig().fileRoot);
  mkdirSync(folder, { recursive: true });
  const name = `${tag}.csv`;
  writeFileSync(join(folder, name), demoCsv(tag));
  console.log(`wrote ${ROWS} contacts (a few invalid, duplicated or malformed) to ${join(folder, name)}`);

  const client = new pg.Client({ connectionString: cfg.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>(
      "insert into import_jobs (source_url, target, batch_size) values ($1, 'contacts', 1000) returning id",
      [`file://${name}`],
    );
    const id = rows[0]!.id;
    console.log(`inserted import job ${id}; the trigger starts workflow import/${id}`);
    const started = Date.now();
    let last = "";
    for (;;) {
      const job = (
        await client.query(
          `select status, batches_done, batches_total, imported_rows, skipped_rows, failed_rows, total_rows, error,
                  extract(epoch from finished_at - created_at)::numeric(10, 2) as seconds
           from import_jobs where id = $1`,
          [id],
        )
      ).rows[0];
      const line = `${job.status.padEnd(19)} batches ${job.batches_done}/${job.batches_total ?? "?"}  imported ${job.imported_rows}  skipped ${job.skipped_rows}  failed ${job.failed_rows}`;
      if (line !== last) console.log(line);
      last = line;
      if (FINAL.includes(job.status)) {
        console.log(`${job.status} in ${job.seconds} s: ${job.error ?? "every row imported"}`);
        break;
      }
      if (job.status === "queued" && Date.now() - started > 20_000) {
        throw new Error(
          `job ${id} is still queued after 20 s; is the worker running? (npm start, log .stack/logs/worker.log)`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const errors = await client.query<{ line_no: number; field: string | null; message: string }>(
      "select line_no, field, message from import_errors where job_id = $1 order by line_no, field limit 6",
      [id],
    );
    console.log("first row errors (select * from import_errors where job_id = ...):");
    for (const e of errors.rows)
      console.log(`  line ${e.line_no}${e.field ? ` [${e.field}]` : ""}: ${e.message}`);
  } finally {
    await client.end();
  }
}
