// The raw bytes of a source that cannot be read again (see SourceIdentity), kept in
// import_source_chunks while its job runs: staging writes them as they stream past, and the batch
// steps read them back from an offset instead of asking the source. 1 MiB chunks: few rows, and a
// read from an offset starts within a chunk of it.
import type pg from "pg";
import { OneInFlight } from "./in-flight.ts";

export const SPOOL_CHUNK_BYTES = 1 << 20;

const INSERT = "insert into public.import_source_chunks (job_id, chunk_no, bytes) values ($1, $2, $3)";

/** Gathers raw chunks into SPOOL_CHUNK_BYTES rows; at most one insert in flight. */
export class SpoolWriter {
  private buf = Buffer.allocUnsafe(SPOOL_CHUNK_BYTES);
  private used = 0;
  private chunkNo = 0;
  private readonly writes = new OneInFlight();
  private readonly client: pg.ClientBase;
  private readonly jobId: string;

  constructor(client: pg.ClientBase, jobId: string) {
    this.client = client;
    this.jobId = jobId;
  }

  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(bytes.length - at, SPOOL_CHUNK_BYTES - this.used);
      this.buf.set(bytes.subarray(at, at + n), this.used);
      this.used += n;
      at += n;
      if (this.used === SPOOL_CHUNK_BYTES) await this.flush();
    }
  }

  async end(): Promise<void> {
    if (this.used > 0) await this.flush();
    await this.writes.drain();
  }

  private async flush(): Promise<void> {
    const row = this.buf.subarray(0, this.used);
    // The buffer handed to the insert is not reused while it is being sent.
    this.buf = Buffer.allocUnsafe(SPOOL_CHUNK_BYTES);
    this.used = 0;
    const chunkNo = this.chunkNo++;
    await this.writes.start(() => this.client.query(INSERT, [this.jobId, chunkNo, row]));
  }
}

/** The kept bytes from `offset` on, one chunk row at a time. */
export async function* readSpool(pool: pg.Pool, jobId: string, offset: number): AsyncGenerator<Uint8Array> {
  let chunkNo = Math.floor(offset / SPOOL_CHUNK_BYTES);
  let skip = offset - chunkNo * SPOOL_CHUNK_BYTES;
  for (;;) {
    const { rows } = await pool.query<{ bytes: Buffer }>(
      "select bytes from public.import_source_chunks where job_id = $1 and chunk_no = $2",
      [jobId, chunkNo++],
    );
    const bytes = rows[0]?.bytes;
    if (!bytes) return;
    if (skip < bytes.length) yield skip > 0 ? bytes.subarray(skip) : bytes;
    skip = Math.max(0, skip - bytes.length);
  }
}
