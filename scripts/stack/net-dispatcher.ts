// Sends the requests queued by the pg_net stand-in. It wakes on NOTIFY (delivered only at commit) and
// polls as a backstop, sends a batch concurrently, then records each outcome in net._http_response
// and removes the queue row in one transaction, the way pg_net's background worker does.
import pg from "pg";
import { inTransaction } from "../../functions/shared/transaction.ts";

const DB_URL = process.env.DATABASE_URL ?? "postgresql://postgres:postgres@127.0.0.1:54322/postgres";
const BATCH = 200;
const POLL_MS = 1000;
const RESPONSE_TTL = "6 hours"; // pg_net's default pg_net.ttl

interface QueuedRequest {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer | null;
  timeout_milliseconds: number;
}

interface Outcome {
  id: string;
  status_code: number | null;
  content_type: string | null;
  headers: Record<string, string> | null;
  content: string | null;
  timed_out: boolean;
  error_msg: string | null;
}

const log = (event: string, fields: Record<string, unknown> = {}) =>
  console.log(
    JSON.stringify({ ts: new Date().toISOString(), component: "net-dispatcher", event, ...fields }),
  );

export async function send(req: QueuedRequest): Promise<Outcome> {
  const base = { id: req.id, status_code: null, content_type: null, headers: null, content: null };
  try {
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.method === "GET" || !req.body ? undefined : new Uint8Array(req.body),
      signal: AbortSignal.timeout(req.timeout_milliseconds),
    });
    const content = await res.text();
    return {
      id: req.id,
      status_code: res.status,
      content_type: res.headers.get("content-type"),
      headers: Object.fromEntries(res.headers.entries()),
      content,
      timed_out: false,
      error_msg: null,
    };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === "TimeoutError") {
      return { ...base, timed_out: true, error_msg: `Timeout of ${req.timeout_milliseconds} ms reached` };
    }
    const code = e.cause?.code;
    const msg =
      code === "ECONNREFUSED"
        ? "Couldn't connect to server"
        : code === "ENOTFOUND"
          ? "Couldn't resolve host name"
          : [e.message, e.cause?.message, code].filter(Boolean).join(": ");
    return { ...base, timed_out: false, error_msg: msg };
  }
}

async function drain(client: pg.Client): Promise<number> {
  const { rows } = await client.query<QueuedRequest>(
    `select id, method, url, headers, body, timeout_milliseconds
       from net.http_request_queue order by id limit $1`,
    [BATCH],
  );
  if (rows.length === 0) return 0;
  const outcomes = await Promise.all(rows.map(send));
  await inTransaction(client, async () => {
    await client.query(
      `insert into net._http_response (id, status_code, content_type, headers, content, timed_out, error_msg)
       select * from jsonb_to_recordset($1::jsonb) as r(id bigint, status_code int, content_type text,
         headers jsonb, content text, timed_out boolean, error_msg text)`,
      [JSON.stringify(outcomes)],
    );
    await client.query("delete from net.http_request_queue where id = any($1::bigint[])", [
      rows.map((r) => r.id),
    ]);
  });
  for (const o of outcomes) log("sent", { id: o.id, status: o.status_code, error: o.error_msg ?? undefined });
  return rows.length;
}

async function serve(): Promise<void> {
  const client = new pg.Client({ connectionString: DB_URL, application_name: "net-dispatcher" });
  await client.connect();
  let running = false;
  let again = false;
  let stopping = false;
  const pass = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        while ((await drain(client)) === BATCH) {
          /* keep draining full batches */
        }
      } while (again && !stopping);
    } catch (err) {
      log("error", { error: (err as Error).message });
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void pass(), POLL_MS);
  const gc = setInterval(() => {
    client
      .query(`delete from net._http_response where created < now() - interval '${RESPONSE_TTL}'`)
      .catch((err) => log("error", { error: (err as Error).message }));
  }, 60_000);
  const closed = new Promise<void>((resolve) => {
    const finish = () => {
      clearInterval(timer);
      clearInterval(gc);
      resolve();
    };
    client.on("error", (err) => {
      log("connection lost", { error: err.message });
      finish();
    });
    // A transaction whose rollback failed ends the connection (functions/shared/transaction.ts): start over.
    client.on("end", finish);
    const stop = async () => {
      stopping = true;
      finish();
      while (running) await new Promise((r) => setTimeout(r, 20));
      await client.end().catch(() => {});
      process.exit(0);
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  client.on("notification", () => void pass());
  await client.query("listen net_http_request_queue");
  log("listening");
  await pass();
  await closed;
}

// Survives database restarts: a lost connection is re-established, and queued rows are still there.
async function main(): Promise<never> {
  for (;;) {
    try {
      await serve();
    } catch (err) {
      log("connect failed", { error: (err as Error).message });
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    log("fatal", { error: (err as Error).message });
    process.exit(1);
  });
}
