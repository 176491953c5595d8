// gzip sources: recognised by their bytes, decompressed as a stream, and a damaged archive is an input
// error that names the problem; anything else passes through unchanged whatever its chunking.
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { gunzipIfCompressed } from "../../../functions/import/decompress.ts";
import { InputError } from "../../../functions/import/errors.ts";

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of chunks) out.push(Buffer.from(c));
  return Buffer.concat(out);
}

const csv = Buffer.from(
  `email,name\n${Array.from({ length: 2000 }, (_, i) => `p${i}@x.test,Person ${i}`).join("\n")}\n`,
);

describe("gunzipIfCompressed", () => {
  it("passes uncompressed bytes through unchanged, even one byte per chunk", async () => {
    for (const size of [1, 2, 3, 4096]) {
      expect((await collect(gunzipIfCompressed(chunked(csv, size)))).equals(csv), `chunk ${size}`).toBe(true);
    }
    expect(await collect(gunzipIfCompressed(chunked(new Uint8Array(0), 1)))).toHaveLength(0);
    expect((await collect(gunzipIfCompressed(chunked(Buffer.from("x"), 1)))).toString()).toBe("x");
  });

  it("decompresses gzip in any chunking, including concatenated members", async () => {
    const gz = gzipSync(csv);
    expect(gz.length).toBeLessThan(csv.length / 3);
    for (const size of [1, 7, 65536]) {
      expect((await collect(gunzipIfCompressed(chunked(gz, size)))).equals(csv), `chunk ${size}`).toBe(true);
    }
    const twoMembers = Buffer.concat([gzipSync("a\n"), gzipSync("b\n")]);
    expect((await collect(gunzipIfCompressed(chunked(twoMembers, 5)))).toString()).toBe("a\nb\n");
  });

  it("reports a truncated or corrupted archive as an input error", async () => {
    const gz = gzipSync(csv);
    const truncated = gz.subarray(0, Math.floor(gz.length / 2));
    const corrupted = Buffer.from(gz);
    corrupted.fill(0xff, 20, 60);
    for (const [what, bytes] of [
      ["truncated", truncated],
      ["corrupted", corrupted],
    ] as const) {
      const err = await collect(gunzipIfCompressed(chunked(bytes, 1024))).catch((e: Error) => e);
      expect(err, what).toBeInstanceOf(InputError);
      expect((err as Error).message, what).toMatch(
        /gzip-compressed but does not decompress \(.+\); check that the file is complete/,
      );
    }
  });

  it("stops at once when the reader stops, and closes the source", async () => {
    const gz = gzipSync(csv);
    async function* stalls(): AsyncGenerator<Uint8Array> {
      yield gz.subarray(0, 4000);
      await new Promise(() => {});
    }
    for await (const c of gunzipIfCompressed(stalls())) {
      expect(c.length).toBeGreaterThan(0);
      break;
    }
    for (const bytes of [gz, csv]) {
      let closed = false;
      async function* endless(): AsyncGenerator<Uint8Array> {
        try {
          for (;;) yield bytes.subarray(0, 2048);
        } finally {
          closed = true;
        }
      }
      for await (const _ of gunzipIfCompressed(endless())) break;
      await new Promise((r) => setTimeout(r, 50));
      expect(closed).toBe(true);
    }
  });

  it("lets a failure of the source itself through unchanged, so the step can retry it", async () => {
    const gz = gzipSync(csv);
    async function* dropsMidway(): AsyncGenerator<Uint8Array> {
      yield gz.subarray(0, 100);
      throw new Error("socket hang up");
    }
    const err = await collect(gunzipIfCompressed(dropsMidway())).catch((e: Error) => e);
    expect(err).not.toBeInstanceOf(InputError);
    expect((err as Error).message).toBe("socket hang up");
  });
});
