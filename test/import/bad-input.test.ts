// Bad input never crashes the worker and never loses the job: each case ends as a job row `failed` or
// `partially_succeeded` whose message says what to fix, and the same worker then imports a good file.
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LoopbackServer, startLoopbackServer } from "../support/http-server.ts";
import { type Harness, importHarness, uid } from "../support/import/harness.ts";
import type { WorkerProcess } from "../support/worker.ts";

let h: Harness;
let worker: WorkerProcess;
let server: LoopbackServer;
let laterFileExists = false;

beforeAll(async () => {
  h = await importHarness("import_bad_input");
  server = await startLoopbackServer((req, res) => {
    if (req.url === "/export.jsonl.gz") {
      res.writeHead(200, { "content-type": "application/gzip" });
      res.end(gzipSync('{"email":"gz1@good.test","name":"Gz1"}\n{"email":"gz2@good.test","name":"Gz2"}\n'));
      return;
    }
    if (req.url === "/later.csv" && laterFileExists) {
      res.writeHead(200).end("email,name\nlater@x.test,Later\n");
      return;
    }
    if (req.url.startsWith("/broken")) {
      res.writeHead(503).end("try later");
      return;
    }
    res.writeHead(404).end("not here");
  });
  worker = h.worker({ IMPORT_BATCH_RETRIES: "2", IMPORT_BATCH_RETRY_DELAY_MS: "50" });
  await worker.waitForOutput('"started"');
});
afterAll(async () => {
  await h?.close();
  await server?.close();
});

async function errorsOf(id: string) {
  const { rows } = await h.pool.query<{ line_no: number; field: string | null; message: string }>(
    "select line_no, field, message from public.import_errors where job_id = $1 order by line_no, field",
    [id],
  );
  return rows;
}

describe("bad input", () => {
  it("ends every job failed or partially_succeeded with a message that says what to fix", async () => {
    const latin1 = new Uint8Array([
      ...new TextEncoder().encode("email,name\nok@x.test,Ok\nlat@x.test,Jos"),
      0xe9, // "é" in Latin-1: not UTF-8
      ...new TextEncoder().encode("\nok2@x.test,Ok2\n"),
    ]);
    const cases: [string, Record<string, unknown>, string, RegExp][] = [
      [
        "unreachable URL",
        { source_url: "http://127.0.0.1:1/c.csv" },
        "failed",
        /cannot connect to 127\.0\.0\.1:1 \(ECONNREFUSED\); check the URL/,
      ],
      [
        "unknown host",
        { source_url: "http://no-such-host.invalid/c.csv" },
        "failed",
        /cannot resolve host no-such-host\.invalid/,
      ],
      [
        "404",
        { source_url: `${server.url}/missing.csv` },
        "failed",
        /answered HTTP 404; check that the URL is right/,
      ],
      [
        "server keeps failing",
        { source_url: `${server.url}/broken.csv` },
        "failed",
        /staging: .*answered HTTP 503 \(gave up after 3 attempts; check the source/,
      ],
      [
        "empty file",
        { source_url: h.writeFile("empty.csv", "") },
        "failed",
        /the file is empty; a CSV import needs a header row/,
      ],
      [
        "header only",
        { source_url: h.writeFile("header.csv", "email,name\n") },
        "failed",
        /header row but no records/,
      ],
      [
        "missing column",
        { source_url: h.writeFile("nocol.csv", "mail,name\na@x.test,A\n") },
        "failed",
        /lacks the required column email/,
      ],
      [
        "unknown target",
        { source_url: h.writeFile("t.csv", "email,name\na@x.test,A\n"), target: "people" },
        "failed",
        /target "people" is unknown; known targets: contacts/,
      ],
      [
        "batch_size 0",
        { source_url: h.writeFile("b0.csv", "email,name\na@x.test,A\n"), batch_size: 0 },
        "failed",
        /batch_size "?0"? is out of range; use an integer from 1 to 50000/,
      ],
      [
        "batch_size absurd",
        { source_url: h.writeFile("b1.csv", "email,name\na@x.test,A\n"), batch_size: 1e12 },
        "failed",
        /is out of range/,
      ],
      [
        "outside the folder",
        { source_url: "file:///etc/passwd", format: "csv" },
        "failed",
        /outside the import folder/,
      ],
      [
        "escaping the folder",
        { source_url: "file://../../package.json", format: "jsonl" },
        "failed",
        /outside the import folder/,
      ],
      [
        "a % that starts no escape",
        { source_url: "file://100%.csv" },
        "failed",
        /^source_url "file:\/\/100%\.csv" has a % that starts no escape.*write % as %25/,
      ],
      [
        "missing file",
        { source_url: "file://nope.csv" },
        "failed",
        /file nope\.csv does not exist in the import folder/,
      ],
      [
        "every row invalid",
        { source_url: h.writeFile("allbad.csv", "email,name\nnope,A\n,B\n") },
        "failed",
        /no row was imported: 2 invalid/,
      ],
      [
        "truncated gzip",
        {
          source_url: h.writeFile(
            "cut.csv.gz",
            gzipSync("email,name\na@x.test,A\n".repeat(50)).subarray(0, 30),
          ),
        },
        "failed",
        /gzip-compressed but does not decompress \(unexpected end of file\); check that the file is complete/,
      ],
      [
        "invalid UTF-8",
        { source_url: h.writeFile("latin1.csv", latin1) },
        "partially_succeeded",
        /2 row\(s\) imported, 1 invalid/,
      ],
    ];
    const ids = await Promise.all(cases.map(([, fields]) => h.startJob({ batch_size: 100, ...fields })));
    const jobs = await Promise.all(ids.map((id) => h.waitFinished(id, 60_000)));
    cases.forEach(([what, , status, message], i) => {
      expect(jobs[i]!.status, what).toBe(status);
      expect(jobs[i]!.error, what).toMatch(message);
    });
    const utf8 = await errorsOf(ids[cases.length - 1]!);
    expect(utf8).toEqual([
      {
        line_no: 3,
        field: null,
        message: "line 3 (byte 24) is not valid UTF-8; save the file with UTF-8 encoding",
      },
    ]);
    expect(worker.proc.exitCode).toBeNull();
  });

  it("records malformed CSV and invalid rows per line and imports the rest", async () => {
    const tag = uid();
    const csv = [
      "email,name,company,country,phone",
      `a@${tag}.test,Ann,Acme,DE,+49 30 123456`,
      `b@${tag}.test,Bob`, // wrong column count
      `c@${tag}.test,"Cy ""the"" Third",Acme,DE,`, // fine: doubled quotes
      `d@${tag}.test,Di"ane,,,`, // quote inside an unquoted field
      `e@${tag}.test,"Eve, Jr.",,,`, // fine: quoted comma
      `not-an-email,Frank,,,`, // invalid email
      `g@${tag}.test,,,,call me`, // missing name and bad phone
      `A@${tag}.test,Ann again,,,`, // duplicate (emails compare lower-cased)
      `h@${tag}.test,"Unclosed,,,`, // quote never closed
      `i@${tag}.test,Ivy,,,`,
    ].join("\n");
    const id = await h.startJob({ source_url: h.writeFile("mixed.csv", csv), batch_size: 3 });
    const job = await h.waitFinished(id);
    expect(job).toMatchObject({
      status: "partially_succeeded",
      total_rows: 10,
      imported_rows: 4,
      failed_rows: 5,
      skipped_rows: 1,
    });
    const errs = await errorsOf(id);
    expect(errs.map((e) => [e.line_no, e.field])).toEqual([
      [3, null],
      [5, null],
      [7, "email"],
      [8, "name"],
      [8, "phone"],
      [9, "email"],
      [10, null],
    ]);
    expect(errs[0]!.message).toMatch(/line 3 has 2 fields but the header has 5/);
    expect(errs[1]!.message).toMatch(/field 2 contains a double quote but does not start with one/);
    expect(errs[5]!.message).toBe(
      `email a@${tag}.test already appears on line 2; this line was skipped (emails must be unique)`,
    );
    expect(errs[6]!.message).toMatch(/quoted field is never closed/);
    const { rows } = await h.pool.query<{ email: string; name: string }>(
      "select email, name from public.contacts where import_job_id = $1 order by email",
      [id],
    );
    // Line 11 is read again after the unclosed quote on line 10 is given up at the end of the file.
    expect(rows.map((r) => r.name)).toEqual(["Ann", 'Cy "the" Third', "Eve, Jr.", "Ivy"]);
  });

  it("ends a workflow started with a job id that is not a uuid, or of no job, without retrying", async () => {
    const to = h.starter.options({ target: h.group });
    for (const arg of ["not-a-uuid", "8c3c0d8e-98b5-4f6e-9a43-5a1f1f0e0c11"]) {
      const handle = await h.starter.beginRpc(`import/${arg}`, "importJob", arg, to);
      expect(await handle.result()).toEqual({
        status: "missing",
        total: 0,
        imported: 0,
        skipped: 0,
        failed: 0,
      });
    }
    expect(worker.output()).toMatch(
      /"event":"import job not found","component":"worker".*"job_id":"not-a-uuid"/,
    );
  });

  it("stages again when a job that failed on its source is retried after the source is fixed", async () => {
    const id = await h.startJob({ source_url: `${server.url}/later.csv`, batch_size: 10 });
    expect(await h.waitFinished(id)).toMatchObject({
      status: "failed",
      error: expect.stringMatching(/HTTP 404/),
    });
    laterFileExists = true;
    expect(await h.waitWorkflowSettled(id)).toBe("resolved");
    await h.pool.query("select public.retry_workflow($1)", [`import/${id}`]);
    const job = await h.waitStatus(id, "succeeded");
    expect(job).toMatchObject({ imported_rows: 1, total_rows: 1, error: null });
  });

  it("keeps working: the same worker imports good files afterwards, plain and gzip-compressed", async () => {
    const id = await h.startJob({
      source_url: h.writeFile("good.jsonl", '{"email":"z@good.test","name":"Z"}\n'),
      batch_size: 10,
    });
    expect(await h.waitFinished(id)).toMatchObject({ status: "succeeded", imported_rows: 1 });
    const csvGz = await h.startJob({
      source_url: h.writeFile("good.csv.gz", gzipSync("email,name\ngz@good.test,Gz\n")),
      batch_size: 10,
    });
    const jsonlGz = await h.startJob({ source_url: `${server.url}/export.jsonl.gz`, batch_size: 10 });
    expect(await h.waitFinished(csvGz)).toMatchObject({ status: "succeeded", imported_rows: 1 });
    expect(await h.waitFinished(jsonlGz)).toMatchObject({ status: "succeeded", imported_rows: 2 });
    const { rows } = await h.pool.query<{ email: string }>(
      "select email from public.contacts where email like 'gz%@good.test' order by email",
    );
    expect(rows.map((r) => r.email)).toEqual(["gz1@good.test", "gz2@good.test", "gz@good.test"]);
    expect(worker.proc.exitCode).toBeNull();
  });
});
