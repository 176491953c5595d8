// Deterministic pictures for the simulated provider: the same (prompt, style) always gives the same
// pixels, the prompt picks the palette and composition, and each style draws them its own way, so a
// gallery of one prompt shows visibly different images per style. Pure; returns RGB bytes.
import { createHash } from "node:crypto";

export interface Raster {
  width: number;
  height: number;
  rgb: Uint8Array;
}

type Rgb = [number, number, number];

/** mulberry32: a tiny seeded PRNG; quality is irrelevant here, determinism is the point. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function seedOf(...parts: string[]): number {
  return createHash("sha256").update(parts.join("\u0000")).digest().readUInt32BE(0);
}

function hsl(h: number, s: number, l: number): Rgb {
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return [Math.round(f(0) * 255), Math.round(f(8) * 255), Math.round(f(4) * 255)];
}

function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

/** What the prompt decides, whatever the style: a base hue and where the subject sits. */
interface Scene {
  hue: number;
  cx: number;
  cy: number;
  r: number;
  rand: () => number;
}

class Canvas {
  readonly w: number;
  readonly h: number;
  readonly rgb: Uint8Array;
  constructor(w: number, h: number) {
    this.w = w;
    this.h = h;
    this.rgb = new Uint8Array(w * h * 3);
  }
  set(x: number, y: number, c: Rgb, alpha = 1): void {
    const i = (y * this.w + x) * 3;
    const p = this.rgb;
    p[i] = Math.round(p[i]! + (c[0] - p[i]!) * alpha);
    p[i + 1] = Math.round(p[i + 1]! + (c[1] - p[i + 1]!) * alpha);
    p[i + 2] = Math.round(p[i + 2]! + (c[2] - p[i + 2]!) * alpha);
  }
  fill(f: (x: number, y: number) => Rgb): void {
    for (let y = 0; y < this.h; y++) for (let x = 0; x < this.w; x++) this.set(x, y, f(x, y));
  }
  disc(cx: number, cy: number, r: number, c: Rgb, alpha = 1, soft = 0): void {
    const x0 = Math.max(0, Math.floor(cx - r - soft));
    const x1 = Math.min(this.w - 1, Math.ceil(cx + r + soft));
    const y0 = Math.max(0, Math.floor(cy - r - soft));
    const y1 = Math.min(this.h - 1, Math.ceil(cy + r + soft));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const d = Math.hypot(x - cx, y - cy);
        if (d <= r) this.set(x, y, c, alpha);
        else if (soft > 0 && d < r + soft) this.set(x, y, c, alpha * (1 - (d - r) / soft));
      }
    }
  }
  ring(cx: number, cy: number, r: number, width: number, c: Rgb): void {
    for (let y = Math.max(0, Math.floor(cy - r - width)); y <= Math.min(this.h - 1, cy + r + width); y++) {
      for (let x = Math.max(0, Math.floor(cx - r - width)); x <= Math.min(this.w - 1, cx + r + width); x++) {
        if (Math.abs(Math.hypot(x - cx, y - cy) - r) <= width / 2) this.set(x, y, c);
      }
    }
  }
  rect(x0: number, y0: number, w: number, h: number, c: Rgb, alpha = 1): void {
    for (let y = Math.max(0, Math.floor(y0)); y < Math.min(this.h, y0 + h); y++) {
      for (let x = Math.max(0, Math.floor(x0)); x < Math.min(this.w, x0 + w); x++) this.set(x, y, c, alpha);
    }
  }
}

/** Smooth 2D value noise on a coarse lattice, for skies, paper and terrain. */
function valueNoise(rand: () => number, cells: number): (x: number, y: number) => number {
  const n = cells + 1;
  const grid = Float64Array.from({ length: n * n }, () => rand());
  const s = (t: number) => t * t * (3 - 2 * t);
  return (x, y) => {
    const gx = Math.min(x * cells, cells - 1e-9);
    const gy = Math.min(y * cells, cells - 1e-9);
    const ix = Math.floor(gx);
    const iy = Math.floor(gy);
    const fx = s(gx - ix);
    const fy = s(gy - iy);
    const g = (i: number, j: number) => grid[j * n + i]!;
    const top = g(ix, iy) + (g(ix + 1, iy) - g(ix, iy)) * fx;
    const bottom = g(ix, iy + 1) + (g(ix + 1, iy + 1) - g(ix, iy + 1)) * fx;
    return top + (bottom - top) * fy;
  };
}

function landscape(c: Canvas, s: Scene, tone: (col: Rgb) => Rgb): void {
  const sky0 = hsl(s.hue, 0.6, 0.75);
  const sky1 = hsl((s.hue + 30) % 360, 0.5, 0.45);
  const ground = hsl((s.hue + 120) % 360, 0.35, 0.3);
  const noise = valueNoise(s.rand, 8);
  const horizon = c.h * (0.55 + s.rand() * 0.15);
  c.fill((x, y) => {
    const n = noise(x / c.w, y / c.h);
    const ridge = horizon - 30 * noise(x / c.w, 0.5) - 10;
    if (y > ridge) return tone(mix(ground, [20, 20, 20], ((y - ridge) / c.h) * 0.8 + n * 0.2));
    return tone(mix(sky0, sky1, y / ridge + (n - 0.5) * 0.15));
  });
  c.disc(s.cx, Math.min(s.cy, horizon - s.r - 12), s.r * 0.6, tone(hsl(45, 0.9, 0.85)), 1, 14);
}

const STYLES: Record<string, (c: Canvas, s: Scene) => void> = {
  photorealistic: (c, s) => landscape(c, s, (col) => col),
  sepia: (c, s) =>
    landscape(c, s, ([r, g, b]) => {
      const l = 0.3 * r + 0.59 * g + 0.11 * b;
      return [Math.min(255, l * 1.07 + 20), Math.min(255, l * 0.88 + 10), l * 0.66];
    }),
  cartoon: (c, s) => {
    const bg = hsl(s.hue, 0.8, 0.7);
    const band = hsl((s.hue + 180) % 360, 0.7, 0.55);
    c.fill((_x, y) => (y > c.h * 0.7 ? band : bg));
    for (let i = 0; i < 3; i++) {
      const x = c.w * (0.2 + 0.3 * i) + (s.rand() - 0.5) * 20;
      const y = c.h * (0.35 + s.rand() * 0.3);
      const r = c.w * (0.08 + s.rand() * 0.08);
      c.disc(x, y, r + 4, [20, 20, 20]);
      c.disc(x, y, r, hsl((s.hue + 90 * (i + 1)) % 360, 0.9, 0.6));
      c.disc(x - r * 0.35, y - r * 0.2, r * 0.18, [255, 255, 255]);
      c.disc(x + r * 0.35, y - r * 0.2, r * 0.18, [255, 255, 255]);
      c.disc(x - r * 0.35, y - r * 0.2, r * 0.08, [20, 20, 20]);
      c.disc(x + r * 0.35, y - r * 0.2, r * 0.08, [20, 20, 20]);
    }
  },
  abstract: (c, s) => {
    c.fill(() => hsl((s.hue + 200) % 360, 0.3, 0.92));
    for (let i = 0; i < 14; i++) {
      const col = hsl((s.hue + s.rand() * 160) % 360, 0.85, 0.3 + s.rand() * 0.4);
      if (s.rand() < 0.5)
        c.rect(s.rand() * c.w, s.rand() * c.h, 20 + s.rand() * 90, 20 + s.rand() * 90, col, 0.85);
      else c.disc(s.rand() * c.w, s.rand() * c.h, 10 + s.rand() * 50, col, 0.8);
    }
  },
  watercolor: (c, s) => {
    const paper = valueNoise(s.rand, 32);
    c.fill((x, y) => {
      const n = 240 + paper(x / c.w, y / c.h) * 15;
      return [n, n, n - 8];
    });
    for (let i = 0; i < 9; i++) {
      const col = hsl((s.hue + i * 25) % 360, 0.55, 0.6);
      c.disc(
        s.cx + (s.rand() - 0.5) * c.w * 0.7,
        s.cy + (s.rand() - 0.5) * c.h * 0.7,
        20 + s.rand() * 40,
        col,
        0.35,
        18,
      );
    }
  },
  "pixel-art": (c, s) => {
    const block = Math.max(4, Math.round(c.w / 16));
    const palette = [0, 1, 2, 3].map((i) => hsl((s.hue + i * 70) % 360, 0.7, 0.3 + i * 0.12));
    for (let by = 0; by < c.h; by += block) {
      for (let bx = 0; bx < c.w; bx += block) {
        const d = Math.hypot(bx + block / 2 - s.cx, by + block / 2 - s.cy) / s.r;
        const idx = d < 1 ? 3 : d < 1.6 ? 2 : s.rand() < 0.15 ? 1 : 0;
        c.rect(bx, by, block, block, palette[idx]!);
      }
    }
  },
  "line-art": (c, s) => {
    c.fill(() => [250, 250, 248]);
    const ink: Rgb = [25, 25, 35];
    const waves = 6 + Math.floor(s.rand() * 6);
    const phase = s.rand() * Math.PI * 2;
    for (let i = 0; i < waves; i++) {
      const y0 = ((i + 1) * c.h) / (waves + 1);
      for (let x = 0; x < c.w; x++) {
        const y = Math.round(y0 + 10 * Math.sin(x / 18 + phase + i));
        if (y >= 0 && y < c.h) c.set(x, y, ink);
        if (y + 1 >= 0 && y + 1 < c.h) c.set(x, y + 1, ink, 0.5);
      }
    }
    c.ring(s.cx, s.cy, s.r, 3, ink);
  },
  neon: (c, s) => {
    c.fill((_x, y) => mix([8, 4, 20], [25, 5, 40], y / c.h));
    for (let i = 0; i < 3; i++) {
      const col = hsl((s.hue + i * 120) % 360, 1, 0.6);
      const r = s.r * (0.6 + i * 0.45);
      c.ring(s.cx, s.cy, r, 9, mix(col, [8, 4, 20], 0.7));
      c.ring(s.cx, s.cy, r, 3, col);
    }
    const grid = hsl((s.hue + 300) % 360, 1, 0.55);
    for (let x = 0; x < c.w; x += 16) c.rect(x, c.h * 0.8, 1, c.h * 0.2, grid, 0.6);
    for (let y = Math.round(c.h * 0.8); y < c.h; y += 8) c.rect(0, y, c.w, 1, grid, 0.6);
  },
};

/** Styles without a look of their own (only the benchmark's synthetic ones) get stripes in their own hue. */
function generic(style: string): (c: Canvas, s: Scene) => void {
  const hue = seedOf(style) % 360;
  return (c, s) =>
    c.fill((x, y) => hsl((hue + ((x + y) % 64 < 32 ? 0 : 40)) % 360, 0.6, 0.4 + 0.2 * Math.sin(s.hue)));
}

export function draw(prompt: string, style: string, size: number): Raster {
  const sceneRand = prng(seedOf(prompt));
  const scene: Scene = {
    hue: Math.floor(sceneRand() * 360),
    cx: size * (0.3 + sceneRand() * 0.4),
    cy: size * (0.3 + sceneRand() * 0.3),
    r: size * (0.12 + sceneRand() * 0.1),
    rand: prng(seedOf(prompt, style)),
  };
  const canvas = new Canvas(size, size);
  (STYLES[style] ?? generic(style))(canvas, scene);
  return { width: size, height: size, rgb: canvas.rgb };
}
