import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { draw } from "../../../functions/images/draw.ts";
import { drawPng } from "../../../functions/images/draw-in-thread.ts";
import { crc32, encodePng, isPng, pngSize } from "../../../functions/images/png.ts";
import { KNOWN_STYLES } from "../../../functions/images/styles.ts";
import { decodePng, pixelStats } from "../../support/images/png-decode.ts";

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("encodePng", () => {
  it("round-trips pixels through a standard decoder", () => {
    const rgb = Uint8Array.from({ length: 7 * 5 * 3 }, (_, i) => (i * 37) % 256);
    const png = encodePng(7, 5, rgb);
    expect(isPng(png)).toBe(true);
    expect(pngSize(png)).toEqual({ width: 7, height: 5 });
    const back = decodePng(png);
    for (let i = 0; i < 35; i++)
      expect([...back.rgba.subarray(i * 4, i * 4 + 3)]).toEqual([...rgb.subarray(i * 3, i * 3 + 3)]);
  });

  it("uses the PNG CRC-32", () => {
    expect((crc32(new TextEncoder().encode("IEND")) ^ 0xffffffff) >>> 0).toBe(0xae426082);
  });

  it("refuses a buffer of the wrong size", () => {
    expect(() => encodePng(2, 2, new Uint8Array(5))).toThrow("expected 12 RGB bytes for 2x2, got 5");
  });
});

describe("draw", () => {
  it("is deterministic for (prompt, style)", () => {
    const a = draw("a lighthouse at dusk", "cartoon", 64);
    const b = draw("a lighthouse at dusk", "cartoon", 64);
    expect(sha(a.rgb)).toBe(sha(b.rgb));
    expect(sha(draw("a red fox", "cartoon", 64).rgb)).not.toBe(sha(a.rgb));
  });

  it("gives every known style its own, non-blank look", () => {
    const hashes = new Set<string>();
    for (const style of KNOWN_STYLES) {
      const r = draw("a lighthouse at dusk", style, 96);
      hashes.add(sha(r.rgb));
      const stats = pixelStats(decodePng(encodePng(r.width, r.height, r.rgb)));
      expect(stats.colors, style).toBeGreaterThan(3);
    }
    expect(hashes.size).toBe(KNOWN_STYLES.length);
  });

  it("draws styles it has no look for, which the benchmark fans out to", () => {
    expect(pixelStats(decodePng(encodePng(32, 32, draw("p", "bench-17", 32).rgb))).colors).toBeGreaterThan(1);
  });
});

describe("drawPng", () => {
  it("draws in the draw thread exactly what draw + encodePng give, without blocking this thread", async () => {
    const expected = (style: string) => {
      const r = draw("a lighthouse at dusk", style, 128);
      return sha(encodePng(r.width, r.height, r.rgb));
    };
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    const pngs = await Promise.all(KNOWN_STYLES.map((s) => drawPng("a lighthouse at dusk", s, 128)));
    clearInterval(ticker);
    expect(pngs.map(sha)).toEqual(KNOWN_STYLES.map(expected));
    // Timers kept firing on this thread while eight pictures were drawn.
    expect(ticks).toBeGreaterThan(2);
  });
});
