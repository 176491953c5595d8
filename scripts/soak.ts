// `npm run soak -- --minutes N [--rate R]`: all three workloads under load and faults at once, on the
// local stack (STACK_PORT_OFFSET moves it), then the invariants. Rows arrive through the real trigger
// path while two supervised workers are SIGKILLed in turn and Postgres, the functions server and the
// pooler each crash once; when the load ends it waits until everything finished, checks that nothing was
// lost or done twice, prints each invariant with its count and the rows of any violation, reports
// throughput, latency, recovery and peaks, and exits 1 on any violation. See docs/operations.md.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { formatTable, report } from "../bench/lib/report.ts";
import { loadConfig } from "../functions/shared/config.ts";
import { parseSoakArgs, type SoakArgs } from "./soak/args.ts";
import { corpus } from "./soak/corpus.ts";
import { recordEvidence } from "./soak/evidence.ts";
import { startFaults } from "./soak/faults.ts";
import { checkInvariants } from "./soak/invariants.ts";
import { startLoad } from "./soak/load.ts";
import { startMonitor } from "./soak/monitor.ts";
import { startOrigin } from "./soak/origin.ts";
import { type ImagePlan, type ImportPlan, importFile } from "./soak/plans.ts";
import { fakeProvider } from "./soak/provider.ts";
import { waitForQuiescence } from "./soak/quiesce.ts";
import { seeded } from "./soak/random.ts";
import { collectMetrics, formatInvariants, type Metrics } from "./soak/report.ts";
import { prepareSchema, stopAudit } from "./soak/schema.ts";
import { type SoakWorker, startWorkers, stopStackWorker, stopWorkers } from "./soak/workers.ts";
import { STACK_DIR } from "./stack/layout.ts";
import { DB_URL } from "./stack/postgres.ts";
import { up } from "./stack.ts";

const say = (msg: string) => console.error(`soak: ${msg}`);
const event = (name: string, fields: Record<string, unknown> = {}) =>
  say(`${name}${Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ""}`);

const SETTLE_MS = 5_000;

function interruptible(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    });
  });
}

async function soak(args: SoakArgs, db: pg.Pool, interrupt: AbortSignal, workers: SoakWorker[]) {
  const run = randomBytes(3).toString("hex");
  say(`run ${run}, seed ${args.seed}, ${args.minutes} min at ${args.rate} rows/min`);
  await prepareSchema(db, { run, ...args });

  const imports = new Map<string, ImportPlan>();
  const images = new Map<string, ImagePlan>();
  const provider = fakeProvider((tag, style) => images.get(tag)?.styles.find((s) => s.style === style));
  let originUrl = "";
  const corpusDir = join(STACK_DIR, "soak", "corpus");
  const docs = corpus(seeded(args.seed + 1), { run, dir: corpusDir, origin: () => originUrl });
  const origin = await startOrigin({
    importFile(name) {
      const tag = name.replace(/\.(csv|jsonl)$/, "");
      const plan = imports.get(tag);
      if (!plan || plan.missing) return undefined;
      return {
        type: plan.format === "csv" ? "text/csv" : "application/x-ndjson",
        body: importFile(tag, plan),
      };
    },
    corpus: docs,
    provider,
  });
  originUrl = origin.url;
  try {
    await db.query(
      `insert into public.ingest_sources (name, kind, config) values
         ($1, 'sitemap', jsonb_build_object('url', $2::text, 'max_items_per_run', 1000, 'concurrency', 4)),
         ($3, 'markdown_dir', jsonb_build_object('path', $4::text))`,
      [docs.sources.sitemap, `${origin.url}/corpus/sitemap.xml`, docs.sources.markdown, corpusDir],
    );
    workers.push(
      ...(await startWorkers(2, {
        IMAGES_PROVIDER: "openai",
        OPENAI_API_KEY: "soak-provider",
        OPENAI_BASE_URL: `${origin.url}/v1`,
      })),
    );
    say(`workers ${workers.map((w) => `${w.id} (pid ${w.pid()})`).join(", ")}; origin ${origin.url}`);

    const loadMs = args.minutes * 60_000;
    const monitor = startMonitor(db, workers);
    const load = startLoad({
      db,
      rnd: seeded(args.seed),
      ingestRnd: seeded(args.seed + 2),
      run,
      rate: args.rate,
      origin: () => origin.url,
      corpus: docs,
      imports,
      images,
      log: event,
    });
    const faults = startFaults({
      db,
      rnd: seeded(args.seed + 3),
      loadMs,
      leaseMs: loadConfig().resonate.ttlMs,
      workers,
      say: event,
    });
    const loadStarted = Date.now();
    await interruptible(loadMs, interrupt);
    await faults.stop();
    await load.stop();
    const loadSeconds = (Date.now() - loadStarted) / 1000;
    await db.query("update soak.meta set load_ended_at = clock_timestamp()");
    say(
      `load over after ${Math.round(loadSeconds)} s: ${JSON.stringify(load.counts)}; waiting for quiescence`,
    );

    const quiet = await waitForQuiescence(db, interrupt, say);
    say(quiet ? "quiescent" : "not quiescent within the drain budget; checking what there is");
    await db.query("update soak.meta set quiesced_at = clock_timestamp()");
    // Whatever a zombie step would still do, it does now, before the evidence is read.
    await interruptible(SETTLE_MS, interrupt);
    await load.checkLastRun();
    monitor.stop();
    await recordEvidence(db, {
      logs: workers.map((w) => w.log),
      calls: provider.calls,
      fetches: origin.fetches,
      faults: faults.log,
    });
    const results = await checkInvariants(
      db,
      workers.map((w) => w.id),
    );
    const metrics = await collectMetrics(db, { loadSeconds, counts: load.counts, peaks: monitor.peaks });
    return { run, results, metrics };
  } finally {
    await origin.close();
  }
}

function printMetrics(m: Metrics): string {
  return [
    "",
    formatTable(m.workloads),
    "",
    formatTable(m.recovery),
    "",
    formatTable(m.faults),
    "",
    formatTable(m.peaks),
  ].join("\n");
}

async function main(): Promise<number> {
  let args: SoakArgs;
  try {
    args = parseSoakArgs(process.argv.slice(2));
  } catch (err) {
    say((err as Error).message);
    return 2;
  }
  const interrupt = new AbortController();
  process.on("SIGINT", () => {
    say("interrupted: stopping the load and checking what there is");
    interrupt.abort();
  });
  const loadAtStart = loadavg()[0]!;
  await up();
  if (await stopStackWorker()) say("stopped the stack's worker (npm start starts it again)");
  const db = new pg.Pool({ connectionString: DB_URL, max: 4 });
  // Connections die with the Postgres restart; the next query gets a new one.
  db.on("error", () => {});
  const workers: SoakWorker[] = [];
  try {
    const { run, results, metrics } = await soak(args, db, interrupt.signal, workers);
    const violations = results.reduce((n, r) => n + r.violations.length, 0);
    console.log(formatInvariants(results));
    console.log(printMetrics(metrics));
    const dir = join(STACK_DIR, "soak");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "report.json"), JSON.stringify({ run, args, results, metrics }, null, 2));
    console.log(
      `\nrun ${run}, seed ${args.seed}: ${violations === 0 ? "every invariant holds" : `${violations} violations`}` +
        `; the record is in the soak schema and .stack/soak/report.json` +
        `; rerun with: npm run soak -- --minutes ${args.minutes} --rate ${args.rate} --seed ${args.seed}`,
    );
    if (args.benchmarks) {
      const invariants = results.map((r) => ({
        invariant: r.name,
        checked: r.checked,
        violations: r.violations.length,
      }));
      report(
        "soak",
        "Chaos soak: three workloads under load and faults",
        metrics.workloads,
        [
          formatTable(metrics.recovery),
          formatTable(metrics.faults),
          formatTable(metrics.peaks),
          formatTable(invariants),
          `Seed ${args.seed}, ${args.minutes} min of load at ${args.rate} import jobs and image requests per minute, ` +
            "ingest runs one after another; see docs/operations.md (Chaos soak) for what each number means. " +
            `Load average when it started: ${loadAtStart.toFixed(1)} on ${cpus().length} cores ` +
            "(other engineers' runs share the machine).",
        ].join("\n\n"),
        `npm run soak -- --minutes ${args.minutes} --rate ${args.rate} --seed ${args.seed} --benchmarks`,
      );
    }
    return violations === 0 ? 0 : 1;
  } finally {
    await stopWorkers(workers);
    await stopAudit(db).catch(() => {});
    // Later runs (the test suite's forced ingest runs) must not crawl an origin that is gone.
    await db
      .query("update public.ingest_sources set enabled = false where name like 'soak-%'")
      .catch(() => {});
    await db.end();
    // Whatever a fault left down comes back up.
    await up();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`soak: ${(err as Error).stack ?? err}`);
    process.exit(3);
  },
);
