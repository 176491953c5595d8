// `npm run status [-- --kind import|images|ingest] [--status failed] [--limit 20] [--watch] [--interval ms]`:
// recent runs with progress. A table with progress bars on a terminal, one plain line per run otherwise.
import pg from "pg";
import { listRuns } from "../functions/operations/runs.ts";
import { plainLine, table } from "../functions/operations/runs-table.ts";
import { noRunsMessage, parseStatusArgs, refreshedLine } from "../functions/operations/status-args.ts";
import { loadConfig } from "../functions/shared/config.ts";

async function main(): Promise<void> {
  const args = parseStatusArgs(process.argv.slice(2));
  if (args.kind === "help") {
    console.log(args.text);
    return;
  }
  if (args.kind === "error") {
    console.error(`status: ${args.message}`);
    process.exit(2);
  }
  const { filter, watch, intervalMs } = args.options;
  const client = new pg.Client({ connectionString: loadConfig().databaseUrl });
  await client.connect();
  const tty = process.stdout.isTTY;
  const show = async () => {
    const runs = await listRuns(client, filter);
    if (tty) {
      if (watch) process.stdout.write(`\x1b[2J\x1b[H${refreshedLine(new Date(), intervalMs)}\n`);
      console.log(runs.length === 0 ? noRunsMessage(filter) : table(runs, process.stdout.columns ?? 120));
    } else if (runs.length === 0) {
      // On stderr: a pipe reading one line per run gets none.
      console.error(noRunsMessage(filter));
    } else {
      for (const r of runs) console.log(plainLine(r));
    }
  };
  await show();
  if (!watch) {
    await client.end();
    return;
  }
  const timer = setInterval(
    () => void show().catch((err) => console.error(`status: ${err.message}`)),
    intervalMs,
  );
  process.on("SIGINT", async () => {
    clearInterval(timer);
    await client.end();
    process.exit(0);
  });
}

main().catch((err) => {
  console.error(`status: ${(err as Error).message}`);
  process.exit(1);
});
