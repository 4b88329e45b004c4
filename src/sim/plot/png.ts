/**
 * Minimal PNG encoder (8-bit RGB, filter 0, zlib from node:zlib) and an RGB raster with the
 * drawing primitives the charts need: filled rectangles, 1-px and thick lines, bitmap text.
 * Pure computation, no files: `encodePng` returns the bytes, the caller writes them.
 */
import { deflateSync } from 'node:zlib';
import { GLYPH_H, GLYPH_W, glyph } from './font.ts';

export type Rgb = readonly [number, number, number];

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

export class Raster {
  readonly pixels: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.pixels = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.pixels.set(background, i * 3);
  }

  set(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.pixels.set(c, (y * this.width + x) * 3);
  }

  rect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let j = Math.round(y); j < Math.round(y + h); j++) for (let i = Math.round(x); i < Math.round(x + w); i++) this.set(i, j, c);
  }

  /** a line of the given thickness (Bresenham with a square brush) */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    x0 = Math.round(x0);
    y0 = Math.round(y0);
    x1 = Math.round(x1);
    y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    const r = Math.floor((thickness - 1) / 2);
    for (;;) {
      if (thickness <= 1) this.set(x0, y0, c);
      else this.rect(x0 - r, y0 - r, thickness, thickness, c);
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  /** text with its top-left corner at (x, y); returns the width drawn */
  text(x: number, y: number, s: string, c: Rgb = [0, 0, 0]): number {
    for (let k = 0; k < s.length; k++) {
      const g = glyph(s[k]!);
      for (let row = 0; row < GLYPH_H; row++) {
        const bits = g[row]!;
        if (bits === 0) continue;
        for (let col = 0; col < GLYPH_W; col++) if (bits & (1 << col)) this.set(x + k * GLYPH_W + col, y + row, c);
      }
    }
    return s.length * GLYPH_W;
  }

  /** text rotated 90° counter-clockwise (for a y-axis title), bottom-left at (x, y) */
  textUp(x: number, y: number, s: string, c: Rgb = [0, 0, 0]): void {
    for (let k = 0; k < s.length; k++) {
      const g = glyph(s[k]!);
      for (let row = 0; row < GLYPH_H; row++) {
        const bits = g[row]!;
        for (let col = 0; col < GLYPH_W; col++) if (bits & (1 << col)) this.set(x + row, y - k * GLYPH_W - col, c);
      }
    }
  }
}

export const textWidth = (s: string): number => s.length * GLYPH_W;
export const TEXT_HEIGHT = GLYPH_H;

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

export function encodePng(r: Raster): Uint8Array {
  const sig = Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]);
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, r.width);
  dv.setUint32(4, r.height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  const stride = r.width * 3;
  const raw = new Uint8Array((stride + 1) * r.height);
  for (let y = 0; y < r.height; y++) raw.set(r.pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const idat = deflateSync(raw, { level: 9 });
  const parts = [sig, chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
