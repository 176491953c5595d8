// `npm run bench:import [-- --full]`: contacts per second of the durable import (worker process,
// staged file, one durable step per batch) next to a plain import of the same file into the same
// table (one process, one connection, multi-row upserts, no staging, no durability), measured in the
// same run, plus each process's peak RSS. Default: 100k rows; --full adds 1M, and 3M at batch 1000 for memory.

import { spawn } from "node:child_process";
import { once } from "node:events";
import { createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { readLines } from "../functions/import/lines.ts";
import { CsvParser } from "../functions/import/parse.ts";
import { type Contact, contacts } from "../functions/import/targets/contacts.ts";
import { createResonate, toWorkers } from "../functions/shared/resonate-client.ts";
import { NODE_BIN, ROOT, STACK_DIR } from "../scripts/stack/layout.ts";
import { freshDatabase } from "../test/support/db.ts";
import { startWorker } from "../test/support/worker.ts";
import { type Row, report } from "./lib/report.ts";

const DIR = join(STACK_DIR, "bench-imports");
const BATCH_SIZES = [100, 1000, 10000];
const MEMORY_ROWS = 3_000_000;
const PLAIN_JOB = "00000000-0000-4000-8000-000000000000";

async function generate(rows: number): Promise<string> {
  const file = join(DIR, `contacts-${rows}.csv`);
  if (existsSync(file)) return file;
  const out = createWriteStream(file);
  out.write("email,name,company,country,phone\n");
  for (let i = 0; i < rows; i++) {
    if (
      !out.write(`person${i}@example${i % 97}.com,Person ${i},Company ${i % 1000},DE,+49 30 ${1000000 + i}\n`)
    ) {
      await once(out, "drain");
    }
  }
  out.end();
  await once(out, "finish");
  return file;
}

/** Resident set of a process (VmRSS) or its peak so far (VmHWM), from the kernel. */
function rssMiB(pid: number, field: "VmRSS" | "VmHWM" = "VmHWM"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function reset(db: pg.Pool): Promise<void> {
  await db.query(
    "truncate public.contacts, public.import_errors, public.import_batches, public.import_source_chunks, public.import_sources, public.import_jobs",
  );
  await db.query("vacuum analyze public.contacts");
}

/** The baseline, run in its own process: parse, validate, upsert `batch` rows per statement. */
async function plainImport(file: string, batch: number, url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("insert into public.import_jobs (id, source_url) values ($1, 'plain')", [PLAIN_JOB]);
  const started = performance.now();
  const parser = new CsvParser(contacts.requiredFields);
  let rows: { lineNo: number; row: Contact }[] = [];
  let imported = 0;
  const flush = async () => {
    await client.query("begin");
    imported += (await contacts.write(client, PLAIN_JOB, contacts.prepare(rows))).applied;
    await client.query("commit");
    rows = [];
  };
  for await (const lines of readLines(createReadStream(file, { highWaterMark: 256 * 1024 }))) {
    for (const item of parser.push(lines)) {
      if (item.kind !== "record") continue;
      const v = contacts.validate(item.raw);
      if (v.ok) rows.push({ lineNo: item.lineNo, row: v.row });
      if (rows.length >= batch) await flush();
    }
  }
  await flush();
  const ms = performance.now() - started;
  await client.end();
  console.log(JSON.stringify({ ms, imported, peakMiB: rssMiB(process.pid) }));
}

async function runPlain(
  file: string,
  batch: number,
  url: string,
): Promise<{ ms: number; imported: number; peakMiB: number }> {
  const child = spawn(NODE_BIN, [join(ROOT, "bench/import.ts"), "--plain", file, String(batch), url], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  const [code] = await once(child, "exit");
  if (code !== 0) throw new Error(`plain import exited with ${code}`);
  return JSON.parse(out.trim().split("\n").pop()!);
}

async function runDurable(file: string, batch: number, url: string, db: pg.Pool) {
  const group = `bench-${Date.now()}`;
  const worker = startWorker({ DATABASE_URL: url, RESONATE_GROUP: group, IMPORT_FILE_ROOT: DIR });
  await worker.waitForOutput('"started"');
  const idleMiB = rssMiB(worker.proc.pid!, "VmRSS");
  const starter = createResonate({
    databaseUrl: url,
    group: `${group}-starter`,
    resonate: { serverUrl: undefined, group: `${group}-starter`, ttlMs: 60_000, tickMs: 250 },
  });
  try {
    const { rows } = await db.query<{ id: string }>(
      "insert into public.import_jobs (source_url, batch_size) values ($1, $2) returning id",
      [`file://${file.slice(DIR.length + 1)}`, batch],
    );
    const id = rows[0]!.id;
    await starter.beginRpc(`import/${id}`, "importJob", id, toWorkers(starter, group));
    for (;;) {
      const { rows: j } = await db.query(
        `select status, imported_rows, error,
                extract(epoch from finished_at - created_at) * 1000 as ms,
                extract(epoch from staged_at - created_at) * 1000 as staging_ms
         from public.import_jobs where id = $1`,
        [id],
      );
      const job = j[0];
      if (["succeeded", "partially_succeeded", "failed"].includes(job.status)) {
        if (job.status !== "succeeded") throw new Error(`durable import ${job.status}: ${job.error}`);
        return {
          ms: Number(job.ms),
          stagingMs: Number(job.staging_ms),
          imported: job.imported_rows as number,
          peakMiB: rssMiB(worker.proc.pid!),
          idleMiB,
        };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await starter.stop();
    await worker.kill("SIGTERM");
  }
}

/**
 * Why the target (durable >= 0.8x plain at batch 1000) is or is not reachable, from this run's own rows:
 * staging alone is time the plain import never spends, and the batches repeat the plain import's upserts.
 */
function bound(rows: Row[]): string {
  const r = rows.find((x) => x.rows === 100_000 && x.batch_size === 1000);
  if (!r) return "";
  const plainS = 100_000 / (r["plain rows/s"] as number);
  const stagingS = r["durable: staging s"] as number;
  return [
    `At 100k rows and batch 1000, staging alone took ${stagingS} s, ${Math.round((stagingS / plainS) * 100)}% of the plain import's`,
    `${plainS.toFixed(1)} s; 0.8x leaves the durable import ${(plainS / 0.8).toFixed(1)} s in all, so its batches would have`,
    `${(plainS / 0.8 - stagingS).toFixed(1)} s for the same upserts the plain import spends most of its time on.`,
  ].join("\n");
}

async function main(): Promise<void> {
  if (process.argv[2] === "--plain") {
    await plainImport(process.argv[3]!, Number(process.argv[4]), process.argv[5]!);
    return;
  }
  const full = process.argv.includes("--full");
  const sizes = full ? [100_000, 1_000_000, MEMORY_ROWS] : [100_000];
  // The largest file only shows whether memory stays flat, so it runs at the target's batch size alone.
  const batchSizes = (size: number) => (size === MEMORY_ROWS ? [1000] : BATCH_SIZES);
  // This machine is shared and noisy: each pair runs REPEAT times interleaved, and the fastest of each counts.
  const repeat = (size: number) => (size <= 100_000 ? 2 : 1);
  mkdirSync(DIR, { recursive: true });
  const url = await freshDatabase("import_bench");
  const db = new pg.Pool({ connectionString: url, max: 2 });
  // Other people's crash tests restart this Postgres now and then; a pair measured across a restart is
  // measured again rather than reported.
  db.on("error", () => {});
  const postmasterStart = async (): Promise<string> => {
    for (let waited = 0; ; waited += 1000) {
      try {
        return (await db.query<{ t: string }>("select pg_postmaster_start_time()::text as t")).rows[0]!.t;
      } catch (err) {
        if (waited > 60_000) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };
  const rows: Row[] = [];
  for (const size of sizes) {
    const file = await generate(size);
    for (const batch of batchSizes(size)) {
      let plain: Awaited<ReturnType<typeof runPlain>> | undefined;
      let durable: Awaited<ReturnType<typeof runDurable>> | undefined;
      for (let r = 0, restarts = 0; r < repeat(size); r++) {
        const before = await postmasterStart();
        let p: Awaited<ReturnType<typeof runPlain>>;
        let d: Awaited<ReturnType<typeof runDurable>>;
        try {
          await reset(db);
          p = await runPlain(file, batch, url);
          await reset(db);
          d = await runDurable(file, batch, url, db);
        } catch (err) {
          if (++restarts > 3 || (await postmasterStart()) === before) throw err;
          r--;
          continue;
        }
        if ((await postmasterStart()) !== before) {
          if (++restarts > 3) throw new Error("Postgres kept restarting during the benchmark");
          r--;
          continue;
        }
        if (p.imported !== size || d.imported !== size) {
          throw new Error(`imported ${p.imported} (plain) / ${d.imported} (durable) of ${size}`);
        }
        if (!plain || p.ms < plain.ms) plain = p;
        if (!durable || d.ms < durable.ms) durable = d;
      }
      const row: Row = {
        rows: size,
        batch_size: batch,
        "plain rows/s": Math.round(size / (plain!.ms / 1000)),
        "durable rows/s": Math.round(size / (durable!.ms / 1000)),
        "durable / plain": Number((plain!.ms / durable!.ms).toFixed(2)),
        "durable: staging s": Number((durable!.stagingMs / 1000).toFixed(1)),
        "durable: batches s": Number(((durable!.ms - durable!.stagingMs) / 1000).toFixed(1)),
        "worker idle MiB": Math.round(durable!.idleMiB),
        "worker peak MiB": Math.round(durable!.peakMiB),
        "plain peak MiB": Math.round(plain!.peakMiB),
      };
      rows.push(row);
      console.log(JSON.stringify(row));
    }
  }
  await db.end();
  report(
    "import",
    "Bulk import: durable vs plain",
    rows,
    `Durable: a worker process runs workflow importJob (stage the file into import_rows, then one durable step per
batch: validate, upsert, mark done in one transaction), timed from the job row's insert to its finish.
Plain: one process streams the same CSV through the same parser, validation and multi-row upsert, one statement
per batch, no staging and no durability. Both write to an emptied contacts table in the same database.
Peak MiB is each process's VmHWM (peak RSS); worker idle is its RSS before the import (every workload's
code loaded). 100k rows: fastest of 2 interleaved runs; 1M and 3M: one run. Full set: \`npm run bench:import -- --full\`.
${bound(rows)}`,
  );
}

main().catch((err) => {
  console.error(`bench:import: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
