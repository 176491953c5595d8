// Large exports usually travel gzip-compressed (`contacts.csv.gz`, or a server answering with gzip
// bytes). A source is recognised by the gzip magic number rather than by its name, so a renamed file or
// any content type works, and every other source passes through byte for byte. Decompression streams:
// memory stays bounded by a chunk, as for an uncompressed file.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { InputError } from "./errors.ts";

const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** Whether a source that starts with `head` (its first two bytes at least) is gzip. */
export function isGzip(head: Uint8Array): boolean {
  return head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
}

export async function* gunzipIfCompressed(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const source = chunks[Symbol.asyncIterator]();
  let head: Uint8Array = new Uint8Array(0);
  while (head.length < GZIP_MAGIC.length) {
    const next = await source.next();
    if (next.done) {
      if (head.length > 0) yield head;
      return;
    }
    head = head.length === 0 ? next.value : Buffer.concat([head, next.value]);
  }
  // Whoever stops reading early (an error downstream) must still close the file or socket behind it.
  const rest = async function* () {
    try {
      yield head;
      for (let next = await source.next(); !next.done; next = await source.next()) yield next.value;
    } finally {
      await source.return?.();
    }
  };
  if (!isGzip(head)) {
    yield* rest();
    return;
  }

  const gunzip = createGunzip();
  // The pipeline carries a failure of the source (a dropped connection) into gunzip, which the loop
  // below then throws as is, so it stays retryable; only zlib's own errors mean the bytes are bad.
  // Not awaited when reading stops early: a stalled source would hold the caller until its socket times
  // out. Destroying gunzip ends the pipeline, which returns rest() and so closes the source once it answers.
  pipeline(Readable.from(rest(), { objectMode: false }), gunzip).catch(() => {});
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    if (code.startsWith("Z_")) {
      throw new InputError(
        `the source is gzip-compressed but does not decompress (${(err as Error).message}); check that the file is complete and not corrupted`,
      );
    }
    throw err;
  } finally {
    gunzip.destroy();
  }
}
