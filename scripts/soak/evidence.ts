// Moves what the soak saw from outside into its tables once the run is quiet, so the invariants can
// join it: the steps each worker started (from their logs), the provider's calls, the page fetches, the
// faults, and the hash of every stored object under a soak request.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import { STORAGE_DIR } from "../stack/layout.ts";
import type { Fault } from "./faults.ts";
import type { PageFetch } from "./origin.ts";
import type { ProviderCall } from "./provider.ts";

export interface StepEvent {
  at: string;
  worker: string;
  workflow_id: string;
  step_id: string;
}

/** "step started" lines of worker logs; a line cut short by a SIGKILL is skipped. */
export function stepEvents(logs: string[]): StepEvent[] {
  const out: StepEvent[] = [];
  for (const file of logs) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!line.includes('"step started"')) continue;
      try {
        const e = JSON.parse(line) as Record<string, string>;
        out.push({ at: e.ts!, worker: e.worker!, workflow_id: e.workflow_id!, step_id: e.step_id! });
      } catch {
        // Torn by the kill.
      }
    }
  }
  return out;
}

async function insertJson(db: pg.Pool, sql: string, rows: unknown[]): Promise<void> {
  for (let i = 0; i < rows.length; i += 5000) await db.query(sql, [JSON.stringify(rows.slice(i, i + 5000))]);
}

export async function recordEvidence(
  db: pg.Pool,
  e: { logs: string[]; calls: ProviderCall[]; fetches: PageFetch[]; faults: Fault[] },
): Promise<void> {
  await insertJson(
    db,
    `insert into soak.step_events (at, worker, workflow_id, step_id)
     select at, worker, workflow_id, step_id from json_to_recordset($1::json)
       as r(at timestamptz, worker text, workflow_id text, step_id text)`,
    stepEvents(e.logs),
  );
  await insertJson(
    db,
    `insert into soak.provider_calls (tag, style, seq, started_at, status, sha256)
     select tag, style, seq, "startedAt", status, sha256 from json_to_recordset($1::json)
       as r(tag text, style text, seq int, "startedAt" timestamptz, status int, sha256 text)`,
    e.calls,
  );
  await insertJson(
    db,
    `insert into soak.page_fetches (path, at)
     select path, at from json_to_recordset($1::json) as r(path text, at timestamptz)`,
    e.fetches,
  );
  await insertJson(
    db,
    `insert into soak.faults (seq, kind, at, recovered_at, detail)
     select seq, kind, at, "recoveredAt", detail from json_to_recordset($1::json)
       as r(seq int, kind text, at timestamptz, "recoveredAt" timestamptz, detail jsonb)`,
    e.faults,
  );
  // The bytes Storage serves for each object under a soak request (null: the row is there, the file is not).
  const { rows } = await db.query<{ name: string }>(
    `select o.name from storage.objects o join soak.rows r on r.kind = 'images' and o.name like r.id || '/%'
      where o.bucket_id = 'images'`,
  );
  const objects = rows.map(({ name }) => {
    const file = join(STORAGE_DIR, "images", name);
    return {
      path: name,
      sha256: existsSync(file) ? createHash("sha256").update(readFileSync(file)).digest("hex") : null,
    };
  });
  await insertJson(
    db,
    `insert into soak.stored_objects (path, sha256)
     select path, sha256 from json_to_recordset($1::json) as r(path text, sha256 text)`,
    objects,
  );
}
