// Workflow ids are `<kind>/<row id>`, and a second start of an id gets the first one's workflow. A
// webhook for an id with no row starts nothing (404), and a row inserted with an id whose workflow
// already exists is refused, instead of sitting `queued` forever behind a finished workflow.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importRoute } from "../../functions/import/route.ts";
import { serveWebhook } from "../../functions/shared/edge-webhook.ts";
import { type Harness, importHarness } from "../support/import/harness.ts";

let h: Harness;
let handler: (req: Request) => Promise<Response>;

beforeAll(async () => {
  h = await importHarness("import_reused_ids");
  // The handler reads its configuration on its first request: this test's database, directly.
  process.env.DATABASE_URL = h.url;
  delete process.env.DB_POOLER_URL;
  process.env.RESONATE_GROUP = h.group;
  handler = serveWebhook(importRoute);
});
afterAll(async () => {
  await h?.close({ dropDatabase: false });
});

const post = (record: Record<string, unknown>) =>
  handler(
    new Request("http://localhost/functions/v1/import-webhook", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${process.env.WEBHOOK_SECRET}` },
      body: JSON.stringify({
        type: "INSERT",
        table: "import_jobs",
        schema: "public",
        record,
        old_record: null,
      }),
    }),
  );

const promises = async (id: string) =>
  (await h.pool.query("select id, state from resonate.promises where id = $1", [`import/${id}`])).rows;

describe("reused workflow ids", () => {
  it("a webhook for a row that does not exist starts nothing; the real row inserted later runs", async () => {
    const id = crypto.randomUUID();
    const record = { id, source_url: "file://later.csv", format: "csv", target: "contacts", batch_size: 10 };
    const res = await post(record);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: `no public.import_jobs row has id ${id}; nothing was started`,
      id,
    });
    expect(await promises(id)).toEqual([]);

    await h.pool.query(
      "insert into import_jobs (id, source_url, format, target, batch_size) values ($1, $2, $3, $4, $5)",
      [id, record.source_url, record.format, record.target, record.batch_size],
    );
    expect((await post(record)).status).toBe(202);
    expect(await promises(id)).toEqual([{ id: `import/${id}`, state: "pending" }]);
  });

  it("a row re-inserted with the id of a deleted row whose workflow ran is refused with the reason", async () => {
    const id = await h.insertJob({ source_url: "file://gone.csv", format: "csv" });
    expect(
      (
        await post({
          ...(await h.job(id)),
          batch_size: 1000,
          target: "contacts",
          source_url: "file://gone.csv",
        })
      ).status,
    ).toBe(202);
    // The workflow ran (settled here by hand: no worker in this test), then the row was deleted.
    await h.pool.query(
      `select app.rpc_call('promise.settle', jsonb_build_object('id', $1::text, 'state', 'resolved',
         'value', jsonb_build_object('headers', '{}'::jsonb, 'data', '')))`,
      [`import/${id}`],
    );
    await h.pool.query("delete from import_jobs where id = $1", [id]);
    await expect(
      h.pool.query(
        "insert into import_jobs (id, source_url, format) values ($1, 'file://again.csv', 'csv')",
        [id],
      ),
    ).rejects.toThrow(
      `import job ${id}: workflow import/${id} already exists (resolved) from an earlier row with this id, ` +
        "so this row would never run; insert it without an id to get a new one",
    );
  });

  it("the same holds for image requests", async () => {
    const { rows } = await h.pool.query<{ id: string }>(
      "insert into image_requests (prompt) values ('a boat') returning id",
    );
    const id = rows[0]!.id;
    await h.pool.query(
      `select app.rpc_call('promise.create', jsonb_build_object('id', $1::text,
         'timeoutAt', 9999999999999, 'param', '{}'::jsonb, 'tags', '{}'::jsonb))`,
      [`images/${id}`],
    );
    await h.pool.query(
      `select app.rpc_call('promise.settle', jsonb_build_object('id', $1::text, 'state', 'rejected',
         'value', jsonb_build_object('headers', '{}'::jsonb, 'data', '')))`,
      [`images/${id}`],
    );
    await h.pool.query("delete from image_requests where id = $1", [id]);
    await expect(
      h.pool.query("insert into image_requests (id, prompt) values ($1, 'a boat')", [id]),
    ).rejects.toThrow(
      `image request ${id}: workflow images/${id} already exists (rejected) from an earlier row with this id, ` +
        "so this row would never run; insert it without an id to get a new one",
    );
  });
});
