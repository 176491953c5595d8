// What staging learned about a source that the batch steps need to read it again (import_sources),
// and reading it again from a byte offset: from the kept bytes, a file (seek), or an http(s) source
// (Range with If-Range). Offsets count decompressed bytes; a gzip source cannot be entered mid-stream,
// so it is decompressed from its start and the bytes before the offset are skipped.
import type pg from "pg";
import { gunzipIfCompressed } from "./decompress.ts";
import type { ImportDeps } from "./deps.ts";
import { openSource, skip } from "./source.ts";
import { readSpool } from "./spool.ts";

export interface SourcePin {
  gzip: boolean;
  spooled: boolean;
  validator: string | null;
  /** Bytes of the source as served. */
  size: number;
  /** The CSV header's columns; null for JSON Lines. */
  header: string[] | null;
}

type Queryable = Pick<pg.ClientBase, "query">;

export async function savePin(db: Queryable, jobId: string, pin: SourcePin): Promise<void> {
  await db.query(
    `insert into public.import_sources (job_id, gzip, spooled, validator, size, header)
     values ($1, $2, $3, $4, $5, $6)
     on conflict (job_id) do update
       set gzip = excluded.gzip, spooled = excluded.spooled, validator = excluded.validator,
           size = excluded.size, header = excluded.header, created_at = now()`,
    [jobId, pin.gzip, pin.spooled, pin.validator, pin.size, pin.header],
  );
}

export async function loadPin(db: Queryable, jobId: string): Promise<SourcePin | undefined> {
  const { rows } = await db.query<Omit<SourcePin, "size"> & { size: string }>(
    "select gzip, spooled, validator, size, header from public.import_sources where job_id = $1",
    [jobId],
  );
  const r = rows[0];
  return r && { ...r, size: Number(r.size) };
}

/** The job's source, decompressed, from byte `offset` on. */
export async function openPinned(
  deps: ImportDeps,
  jobId: string,
  sourceUrl: string,
  pin: SourcePin,
  offset: number,
): Promise<AsyncIterable<Uint8Array>> {
  const rawOffset = pin.gzip ? 0 : offset;
  const raw = pin.spooled
    ? readSpool(deps.pool, jobId, rawOffset)
    : await openSource(
        sourceUrl,
        { fileRoot: deps.fileRoot, local: deps.local },
        { offset: rawOffset, validator: pin.validator },
      );
  return pin.gzip ? skip(gunzipIfCompressed(raw), offset) : raw;
}
