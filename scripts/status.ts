// `npm run status [-- --kind import|images|ingest] [--status failed] [--limit 20] [--watch]`: recent
// runs with progress. A table with progress bars on a terminal, one plain line per run otherwise.
import { parseArgs } from "node:util";
import pg from "pg";
import { plainLine, table } from "../functions/operations/render.ts";
import { listRuns, parseFilter } from "../functions/operations/runs.ts";
import { loadConfig } from "../functions/shared/config.ts";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kind: { type: "string" },
      status: { type: "string" },
      limit: { type: "string", default: "20" },
      watch: { type: "boolean", default: false },
      interval: { type: "string", default: "1000" },
    },
  });
  const filter = parseFilter(values);
  if (!filter.ok) {
    console.error(`status: ${filter.error}`);
    process.exit(2);
  }
  const client = new pg.Client({ connectionString: loadConfig().databaseUrl });
  await client.connect();
  const tty = process.stdout.isTTY;
  const show = async () => {
    const runs = await listRuns(client, filter.value);
    if (tty) {
      if (values.watch) process.stdout.write("\x1b[2J\x1b[H");
      console.log(table(runs, process.stdout.columns ?? 120));
    } else {
      for (const r of runs) console.log(plainLine(r));
    }
  };
  await show();
  if (!values.watch) {
    await client.end();
    return;
  }
  const timer = setInterval(
    () => void show().catch((err) => console.error(`status: ${err.message}`)),
    Number(values.interval),
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
