/**
 * Byte-plane grouping: for elements of `width` bytes, gather byte k of every element into plane k.
 * FP32 weights then become four planes — the sign/exponent plane is highly redundant while the low
 * mantissa planes are near-random — and zstd finds far more to work with. Pure, allocation-light
 * functions over Uint8Array; a trailing partial element (length % width bytes) is kept verbatim at
 * the end. Knows nothing of files or the container.
 *
 * Widths 4 and 2 (FP32, FP16/BF16 — nearly all weights) run through a tiny WebAssembly module with
 * 128-bit shuffles (wasm/planes.wat; ~8 shuffles per 16 elements), several times faster than the
 * best pure-JS loop; the JS loops below are the reference and the fallback where wasm SIMD is
 * unavailable.
 */
import { PLANES_WASM_BASE64 } from './wasm/planes-wasm.ts';

/** Split `bytes` into `width` planes laid end to end: plane 0 (byte 0 of each element) first. */
export function splitPlanes(bytes: Uint8Array, width: number): Uint8Array {
  checkWidth(width);
  const len = bytes.byteLength;
  const out = uninitialized(len); // every byte is written below
  if (width === 1 || len < width) {
    out.set(bytes);
    return out;
  }
  const n = Math.floor(len / width);
  if (n >= SIMD_MIN_ELEMENTS && (width === 4 || width === 2) && simdTranspose(n * width, (m) => m.set(bytes.subarray(0, n * width)), out, n, width, 'split')) {
    // done by wasm
  } else if (width === 4 && LITTLE_ENDIAN && n % 4 === 0) {
    split4x4(bytes, out, n);
  } else if (width === 4 && LITTLE_ENDIAN) {
    // read whole 32-bit words (copy first if the view is unaligned)
    const src = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes); // a copy (Buffer#slice would be a view)
    const w = new Uint32Array(src.buffer, src.byteOffset, n);
    const p1 = n, p2 = 2 * n, p3 = 3 * n;
    for (let i = 0; i < n; i++) {
      const v = w[i]!;
      out[i] = v;
      out[p1 + i] = v >>> 8;
      out[p2 + i] = v >>> 16;
      out[p3 + i] = v >>> 24;
    }
  } else if (width === 4) {
    const p1 = n, p2 = 2 * n, p3 = 3 * n;
    for (let i = 0, j = 0; i < n; i++, j += 4) {
      out[i] = bytes[j]!;
      out[p1 + i] = bytes[j + 1]!;
      out[p2 + i] = bytes[j + 2]!;
      out[p3 + i] = bytes[j + 3]!;
    }
  } else if (width === 2) {
    for (let i = 0, j = 0; i < n; i++, j += 2) {
      out[i] = bytes[j]!;
      out[n + i] = bytes[j + 1]!;
    }
  } else {
    for (let k = 0; k < width; k++) {
      const base = k * n;
      for (let i = 0, j = k; i < n; i++, j += width) out[base + i] = bytes[j]!;
    }
  }
  const tail = n * width;
  if (tail < len) out.set(bytes.subarray(tail), tail);
  return out;
}

/** Inverse of `splitPlanes`: interleave `width` planes back into elements. */
export function joinPlanes(planes: Uint8Array, width: number): Uint8Array {
  checkWidth(width);
  const len = planes.byteLength;
  const out = uninitialized(len); // every byte is written below
  if (width === 1 || len < width) {
    out.set(planes);
    return out;
  }
  const n = Math.floor(len / width);
  if (n >= SIMD_MIN_ELEMENTS && (width === 4 || width === 2) && simdTranspose(n * width, (m) => m.set(planes.subarray(0, n * width)), out, n, width, 'join')) {
    // done by wasm
  } else if (width === 4 && LITTLE_ENDIAN && n % 4 === 0) {
    join4x4(planes, out, n);
  } else if (width === 4 && LITTLE_ENDIAN) {
    const w = new Uint32Array(out.buffer, 0, n);
    const p1 = n, p2 = 2 * n, p3 = 3 * n;
    for (let i = 0; i < n; i++) {
      w[i] = planes[i]! | (planes[p1 + i]! << 8) | (planes[p2 + i]! << 16) | (planes[p3 + i]! << 24);
    }
  } else if (width === 4) {
    const p1 = n, p2 = 2 * n, p3 = 3 * n;
    for (let i = 0, j = 0; i < n; i++, j += 4) {
      out[j] = planes[i]!;
      out[j + 1] = planes[p1 + i]!;
      out[j + 2] = planes[p2 + i]!;
      out[j + 3] = planes[p3 + i]!;
    }
  } else if (width === 2) {
    for (let i = 0, j = 0; i < n; i++, j += 2) {
      out[j] = planes[i]!;
      out[j + 1] = planes[n + i]!;
    }
  } else {
    for (let k = 0; k < width; k++) {
      const base = k * n;
      for (let i = 0, j = k; i < n; i++, j += width) out[j] = planes[base + i]!;
    }
  }
  const tail = n * width;
  if (tail < len) out.set(planes.subarray(tail), tail);
  return out;
}

/**
 * FP32 fast paths: a 4×4 byte transpose on 32-bit words (four elements in, four plane words out),
 * ~2–3× faster than byte loops. Requires n % 4 === 0; copies unaligned inputs first.
 */
function split4x4(bytes: Uint8Array, out: Uint8Array, n: number): void {
  const src = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes); // a copy (Buffer#slice would be a view)
  const w = new Uint32Array(src.buffer, src.byteOffset, n);
  const o = new Uint32Array(out.buffer, out.byteOffset, n); // out is freshly allocated: aligned
  const q = n >>> 2;
  for (let i = 0, j = 0; i < q; i++, j += 4) {
    const a = w[j]!, b = w[j + 1]!, c = w[j + 2]!, d = w[j + 3]!;
    o[i] = (a & 0xff) | ((b & 0xff) << 8) | ((c & 0xff) << 16) | (d << 24);
    o[q + i] = ((a >>> 8) & 0xff) | (b & 0xff00) | ((c & 0xff00) << 8) | ((d & 0xff00) << 16);
    o[2 * q + i] = ((a >>> 16) & 0xff) | ((b >>> 8) & 0xff00) | (c & 0xff0000) | ((d & 0xff0000) << 8);
    o[3 * q + i] = (a >>> 24) | ((b >>> 16) & 0xff00) | ((c >>> 8) & 0xff0000) | (d & 0xff000000);
  }
}

function join4x4(planes: Uint8Array, out: Uint8Array, n: number): void {
  const src = planes.byteOffset % 4 === 0 ? planes : new Uint8Array(planes); // a copy (Buffer#slice would be a view)
  const p = new Uint32Array(src.buffer, src.byteOffset, n);
  const o = new Uint32Array(out.buffer, out.byteOffset, n);
  const q = n >>> 2;
  for (let i = 0, j = 0; i < q; i++, j += 4) {
    const a = p[i]!, b = p[q + i]!, c = p[2 * q + i]!, d = p[3 * q + i]!;
    o[j] = (a & 0xff) | ((b & 0xff) << 8) | ((c & 0xff) << 16) | (d << 24);
    o[j + 1] = ((a >>> 8) & 0xff) | (b & 0xff00) | ((c & 0xff00) << 8) | ((d & 0xff00) << 16);
    o[j + 2] = ((a >>> 16) & 0xff) | ((b >>> 8) & 0xff00) | (c & 0xff0000) | ((d & 0xff0000) << 8);
    o[j + 3] = (a >>> 24) | ((b >>> 16) & 0xff00) | ((c >>> 8) & 0xff0000) | (d & 0xff000000);
  }
}

/** Below this many elements the copies in and out of wasm memory are not worth it. */
const SIMD_MIN_ELEMENTS = 64;

interface SimdPlanes {
  memory: WebAssembly.Memory;
  join4(src: number, dst: number, n: number, stride: number): void;
  split4(src: number, dst: number, n: number, stride: number): void;
  join2(src: number, dst: number, n: number, stride: number): void;
  split2(src: number, dst: number, n: number, stride: number): void;
}
let simd: SimdPlanes | null | undefined;

/** The wasm module, instantiated once per thread; null where wasm SIMD is unavailable. */
function simdPlanes(): SimdPlanes | null {
  if (simd !== undefined) return simd;
  try {
    const inst = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(PLANES_WASM_BASE64, 'base64')));
    simd = inst.exports as unknown as SimdPlanes;
  } catch {
    simd = null;
  }
  return simd;
}

/** Force the pure-JS paths (tests compare both). */
export function setPlanesSimd(enabled: boolean): void {
  simd = enabled ? undefined : null;
}

/**
 * Transpose `n` elements of width 4 or 2 into `out` through wasm memory: `fill` writes the `inLen`
 * input bytes at its start (the elements or planes first), the first n & ~15 elements go through
 * the SIMD kernel, the last few through JS. Returns the wasm memory view (input still at 0), or
 * undefined if wasm SIMD is unavailable.
 */
function simdTranspose(inLen: number, fill: (scratch: Uint8Array) => void, out: Uint8Array, n: number, width: 2 | 4, op: 'join' | 'split'): Uint8Array | undefined {
  const s = simdPlanes();
  if (!s) return undefined;
  const bytes = n * width;
  const dst = (inLen + 15) & ~15;
  const need = dst + bytes;
  const have = s.memory.buffer.byteLength;
  if (need > have) s.memory.grow(Math.ceil((need - have) / 65536));
  const mem = new Uint8Array(s.memory.buffer); // after any grow (growing detaches the old buffer)
  fill(mem.subarray(0, inLen));
  const m = n & ~15;
  const kernel = width === 4 ? (op === 'join' ? s.join4 : s.split4) : op === 'join' ? s.join2 : s.split2;
  kernel(0, dst, m, n);
  out.set(mem.subarray(dst, dst + bytes), 0);
  // the last n - m elements: element i, byte k <-> plane k, position i
  for (let i = m; i < n; i++) {
    for (let k = 0; k < width; k++) {
      if (op === 'join') out[i * width + k] = mem[k * n + i]!;
      else out[k * n + i] = mem[i * width + k]!;
    }
  }
  return mem;
}

/**
 * Decoder fast path: `fill(scratch)` writes `innerLen` bytes (e.g. zstd decompresses straight into
 * wasm memory); the result is a fresh buffer holding joinPlanes(inner[0, selLen), width) followed
 * by inner[selLen, innerLen) unchanged. Saves a fresh allocation and a copy per chunk.
 */
export function joinPlanesFrom(innerLen: number, selLen: number, width: number, fill: (scratch: Uint8Array) => void): Uint8Array {
  checkWidth(width);
  const n = Math.floor(selLen / width);
  const out = uninitialized(innerLen);
  const mem = (width === 4 || width === 2) && n >= SIMD_MIN_ELEMENTS ? simdTranspose(innerLen, fill, out, n, width, 'join') : undefined;
  if (mem) {
    if (n * width < innerLen) out.set(mem.subarray(n * width, innerLen), n * width); // plane tail + unselected bytes
    return out;
  }
  const inner = uninitialized(innerLen);
  fill(inner);
  out.set(joinPlanes(inner.subarray(0, selLen), width), 0);
  out.set(inner.subarray(selLen), selLen);
  return out;
}

/**
 * A buffer of its own ArrayBuffer (safe to transfer) without zero-filling (callers overwrite every
 * byte): one donated back by a consumer when one of exactly `n` bytes is spare, else a fresh one.
 */
export function uninitialized(n: number): Uint8Array {
  const spare = spares.get(n)?.pop();
  if (spare) {
    spareBytes -= n;
    return new Uint8Array(spare, 0, n);
  }
  const b = Buffer.allocUnsafeSlow(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

/** Bytes of donated buffers this thread keeps at most. */
export const MAX_SPARE_BYTES = 64 << 20;
const spares = new Map<number, ArrayBuffer[]>();
let spareBytes = 0;

/**
 * Give buffers that nothing references any more to this thread's `uninitialized` (a chunk worker
 * receives the decoded chunks its consumer has written out), so decoding a large file reuses a few
 * buffers instead of allocating, faulting in and collecting one per chunk. Beyond MAX_SPARE_BYTES
 * they are left to the GC.
 */
export function donateBuffers(list: ArrayBuffer[]): void {
  for (const ab of list) {
    if (spareBytes + ab.byteLength > MAX_SPARE_BYTES) return;
    let l = spares.get(ab.byteLength);
    if (!l) spares.set(ab.byteLength, (l = []));
    l.push(ab);
    spareBytes += ab.byteLength;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Widths the container allows for byte-plane grouping (1 = no grouping). */
export const MAX_PLANE_WIDTH = 16;

function checkWidth(width: number): void {
  if (!Number.isInteger(width) || width < 1 || width > MAX_PLANE_WIDTH) {
    throw new RangeError(`plane width ${width} must be an integer in 1..${MAX_PLANE_WIDTH}`);
  }
}
