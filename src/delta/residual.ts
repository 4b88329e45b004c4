/**
 * Residuals between an old and a new tensor of the same dtype and length, element by element:
 * 'x' — XOR of the bit patterns (any width); 's' — wrapping difference new − old of the little-endian
 * w-byte words, zigzag-mapped so small changes of either sign give small unsigned words (w = 1, 2, 4).
 * For floats of one sign, the difference of bit patterns is the change in units in the last place,
 * so a 1e-3 relative update leaves the high bytes of the residual zero. Also an order-0 entropy
 * estimate per byte plane, used to choose the cheapest coding. Pure functions over Uint8Array.
 */

import { invertSimd, simdAvailable } from './residual-simd.ts';

export type ResidualOp = 'x' | 's';

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Ops allowed for an element width (the decoder rejects anything else). */
export function opAllowed(op: string, w: number): op is ResidualOp {
  if (op === 'x') return w === 1 || w === 2 || w === 4 || w === 8;
  if (op === 's') return w === 1 || w === 2 || w === 4;
  return false;
}

function aligned(b: Uint8Array, w: number): Uint8Array {
  // Uint8Array.prototype.slice copies even for a Buffer (whose own slice() is a view)
  return b.byteOffset % w === 0 ? b : Uint8Array.prototype.slice.call(b);
}

function words(b: Uint8Array, w: number): Uint8Array | Uint16Array | Uint32Array {
  const a = aligned(b, w);
  if (w === 4) return new Uint32Array(a.buffer, a.byteOffset, a.byteLength >> 2);
  if (w === 2) return new Uint16Array(a.buffer, a.byteOffset, a.byteLength >> 1);
  return a;
}

function assertLE(): void {
  if (!LITTLE_ENDIAN) throw new Error('delta residuals assume a little-endian host');
}

/** residual = op(new, old); `old` and `nw` have equal length, a multiple of w. */
export function forwardResidual(op: ResidualOp, w: number, old: Uint8Array, nw: Uint8Array): Uint8Array {
  assertLE();
  const out = new Uint8Array(nw.length);
  if (op === 'x') {
    if (nw.length % 4 === 0) {
      const o = words(old, 4) as Uint32Array;
      const n = words(nw, 4) as Uint32Array;
      const r = new Uint32Array(out.buffer);
      for (let i = 0; i < r.length; i++) r[i] = o[i] ^ n[i];
    } else {
      for (let i = 0; i < out.length; i++) out[i] = old[i] ^ nw[i];
    }
    return out;
  }
  if (w === 4) {
    const o = words(old, 4) as Uint32Array;
    const n = words(nw, 4) as Uint32Array;
    const r = new Uint32Array(out.buffer);
    for (let i = 0; i < r.length; i++) {
      const d = (n[i] - o[i]) | 0;
      r[i] = (d << 1) ^ (d >> 31);
    }
  } else if (w === 2) {
    const o = words(old, 2) as Uint16Array;
    const n = words(nw, 2) as Uint16Array;
    const r = new Uint16Array(out.buffer);
    for (let i = 0; i < r.length; i++) {
      const d = ((n[i] - o[i]) << 16) >> 16;
      r[i] = (d << 1) ^ (d >> 15);
    }
  } else {
    for (let i = 0; i < out.length; i++) {
      const d = ((nw[i] - old[i]) << 24) >> 24;
      out[i] = (d << 1) ^ (d >> 7);
    }
  }
  return out;
}

/** new = inverse(op)(old, residual); writes into a fresh array. */
export function inverseResidual(op: ResidualOp, w: number, old: Uint8Array, res: Uint8Array): Uint8Array {
  assertLE();
  const out = new Uint8Array(res.length);
  if (op === 'x') {
    if (res.length % 4 === 0) {
      const o = words(old, 4) as Uint32Array;
      const r = words(res, 4) as Uint32Array;
      const n = new Uint32Array(out.buffer);
      for (let i = 0; i < n.length; i++) n[i] = o[i] ^ r[i];
    } else {
      for (let i = 0; i < out.length; i++) out[i] = old[i] ^ res[i];
    }
    return out;
  }
  if (w === 4) {
    const o = words(old, 4) as Uint32Array;
    const r = words(res, 4) as Uint32Array;
    const n = new Uint32Array(out.buffer);
    for (let i = 0; i < n.length; i++) {
      const z = r[i];
      n[i] = o[i] + ((z >>> 1) ^ -(z & 1));
    }
  } else if (w === 2) {
    const o = words(old, 2) as Uint16Array;
    const r = words(res, 2) as Uint16Array;
    const n = new Uint16Array(out.buffer);
    for (let i = 0; i < n.length; i++) {
      const z = r[i];
      n[i] = o[i] + ((z >>> 1) ^ -(z & 1));
    }
  } else {
    for (let i = 0; i < out.length; i++) {
      const z = res[i];
      out[i] = old[i] + ((z >>> 1) ^ -(z & 1));
    }
  }
  return out;
}

const LOG2 = new Float64Array(1 << 16);
function log2Table(): Float64Array {
  if (LOG2[2] === 0) for (let i = 1; i < LOG2.length; i++) LOG2[i] = Math.log2(i);
  return LOG2;
}

/** Order-0 entropy in bits of the bytes at positions k, k+w, k+2w… (one byte plane, not copied). */
export function planeEntropyBits(b: Uint8Array, w: number, k: number): number {
  const hist = new Uint32Array(256);
  let n = 0;
  for (let i = k; i < b.length; i += w) {
    hist[b[i]]++;
    n++;
  }
  return entropyOfHistogram(hist, n);
}

export function entropyOfHistogram(hist: Uint32Array, n: number): number {
  if (n === 0) return 0;
  const lg = log2Table();
  const logN = Math.log2(n);
  let bits = 0;
  for (let s = 0; s < 256; s++) {
    const c = hist[s];
    if (c) bits += c * (logN - (c < lg.length ? lg[c] : Math.log2(c)));
  }
  return bits;
}

/** Above this many bytes, `estimatePlanesBytes` looks at evenly spaced windows only. */
export const ESTIMATE_FULL_BYTES = 1 << 20;
const ESTIMATE_WINDOWS = 64;
const ESTIMATE_WINDOW_BYTES = 8192;

/**
 * Estimated coded size in bytes of `b` split into w byte planes (order-0 entropy per plane), from one
 * pass over the bytes — or, for large inputs, over 64 evenly spaced 8 KiB windows, scaled up.
 */
export function estimatePlanesBytes(b: Uint8Array, w: number): number {
  const hist = new Uint32Array(256 * w);
  let seen = 0;
  const count = (from: number, to: number) => {
    for (let i = from, k = 0; i < to; i++) {
      hist[k * 256 + b[i]]++;
      if (++k === w) k = 0;
    }
    seen += to - from;
  };
  if (b.length <= ESTIMATE_FULL_BYTES) {
    count(0, b.length);
  } else {
    const win = ESTIMATE_WINDOW_BYTES - (ESTIMATE_WINDOW_BYTES % w);
    const step = Math.floor((b.length - win) / (ESTIMATE_WINDOWS - 1));
    for (let j = 0; j < ESTIMATE_WINDOWS; j++) {
      const from = j * step - ((j * step) % w);
      count(from, from + win);
    }
  }
  let bits = 0;
  const per = Math.ceil(seen / w);
  for (let k = 0; k < w; k++) bits += entropyOfHistogram(hist.subarray(k * 256, (k + 1) * 256), per);
  return (bits / 8) * (b.length / Math.max(1, seen));
}

/** A run of `count` elements starting at element `start` of a block held as w separate byte planes. */
export interface PlaneRun {
  planes: Uint8Array[];
  start: number;
  count: number;
}

/** `count * w` bytes to write into: `dst` (aligned for w) when given and large enough, else a fresh array. */
function target(dst: Uint8Array | undefined, bytes: number, w: number): Uint8Array {
  if (dst && dst.length >= bytes && (dst.byteOffset % w === 0 || acceptsUnaligned(w))) return dst.subarray(0, bytes);
  return new Uint8Array(bytes);
}

/**
 * Whether inverseResidualRun and joinRunFast build w-byte elements at any byte offset of `dst` (the
 * SIMD kernels copy through their own memory, so only the scalar loops need aligned typed views).
 */
export function acceptsUnaligned(w: number): boolean {
  return (w === 1 || w === 2 || w === 4) && simdAvailable();
}

/** joinRun through the SIMD kernels where available (XOR onto zeros); any `dst` offset for w = 1, 2, 4. */
export function joinRunFast(w: number, r: PlaneRun, dst?: Uint8Array): Uint8Array {
  if (!acceptsUnaligned(w)) return joinRun(w, r, dst);
  const out = target(dst, r.count * w, w);
  out.fill(0);
  return inverseResidualRun('x', w, out, r, out);
}

/**
 * Interleave a run of plane bytes back into elements (the inverse of byte-plane grouping). Writes
 * into `dst` when it is given, large enough and aligned to w (the result is then a view of it).
 */
export function joinRun(w: number, r: PlaneRun, dst?: Uint8Array): Uint8Array {
  const { planes, start, count } = r;
  const out = target(dst, count * w, w);
  if (w === 1) {
    out.set(planes[0].subarray(start, start + count));
    return out;
  }
  if (w === 4 && LITTLE_ENDIAN) {
    const [p0, p1, p2, p3] = planes;
    const o = new Uint32Array(out.buffer, out.byteOffset, count);
    for (let i = 0, j = start; i < count; i++, j++) o[i] = p0[j] | (p1[j] << 8) | (p2[j] << 16) | (p3[j] << 24);
    return out;
  }
  for (let k = 0; k < w; k++) {
    const p = planes[k];
    for (let i = 0; i < count; i++) out[i * w + k] = p[start + i];
  }
  return out;
}

/**
 * new = inverse(op)(old, residual) where the residual is a plane run: join and invert in one pass over
 * w-byte words. OLD is first copied into the (aligned) output — unless it is already there, read in
 * place by the caller — then each word is updated in place: by the SIMD kernels (residual-simd.ts) in
 * steps of 16 elements, the rest by the scalar loops here. Writes into `dst` when it is given, large
 * enough and aligned (the result is then a view of it). `op` must be allowed for `w` (opAllowed).
 */
export function inverseResidualRun(op: ResidualOp, w: number, old: Uint8Array, r: PlaneRun, dst?: Uint8Array): Uint8Array {
  assertLE();
  const { planes, start, count } = r;
  const out = target(dst, count * w, w);
  if (old.buffer !== out.buffer || old.byteOffset !== out.byteOffset) out.set(old.subarray(0, count * w));
  const done = w === 1 || w === 2 || w === 4 ? invertSimd(op === 'x', w, out, planes, start, count) : 0;
  if (done === count) return out;
  if (out.byteOffset % w === 0) {
    invertScalar(op, w, out, planes, start, done, count);
  } else {
    // the last (< 16) elements at an unaligned offset: through an aligned copy
    const t = Uint8Array.prototype.slice.call(out, done * w) as Uint8Array;
    invertScalar(op, w, t, planes, start + done, 0, count - done);
    out.set(t, done * w);
  }
  return out;
}

/** The scalar inverse of elements [from, to) of a run, in place over OLD's elements in `out`. */
export function invertScalar(op: ResidualOp, w: number, out: Uint8Array, planes: readonly Uint8Array[], start: number, from: number, to: number): void {
  if (w === 1) {
    const p0 = planes[0];
    if (op === 'x') {
      for (let i = from, j = start + from; i < to; i++, j++) out[i] ^= p0[j];
    } else {
      for (let i = from, j = start + from; i < to; i++, j++) {
        const z = p0[j];
        out[i] += (z >>> 1) ^ -(z & 1);
      }
    }
    return;
  }
  if (w === 4) {
    const [p0, p1, p2, p3] = planes;
    const q = new Uint32Array(out.buffer, out.byteOffset, to);
    const count = to - from;
    if (count >= 64 && p0.byteOffset % 4 === 0 && p1.byteOffset % 4 === 0 && p2.byteOffset % 4 === 0 && p3.byteOffset % 4 === 0) {
      invert4Words(op === 'x', q.subarray(from), p0, p1, p2, p3, start + from, count);
    } else {
      invert4Scalar(op === 'x', q, p0, p1, p2, p3, start, from, to);
    }
    return;
  }
  if (w === 2) {
    const [p0, p1] = planes;
    const q = new Uint16Array(out.buffer, out.byteOffset, to);
    if (op === 'x') {
      for (let i = from, j = start + from; i < to; i++, j++) q[i] ^= p0[j] | (p1[j] << 8);
    } else {
      for (let i = from, j = start + from; i < to; i++, j++) {
        const z = p0[j] | (p1[j] << 8);
        q[i] += (z >>> 1) ^ -(z & 1);
      }
    }
    return;
  }
  // w = 8 (XOR only): byte k of each element from plane k
  for (let k = 0; k < w; k++) {
    const p = planes[k];
    for (let i = from, o = from * w + k, j = start + from; i < to; i++, o += w, j++) out[o] ^= p[j];
  }
}

/** Fix up elements [from, to) of q (plane index j = start + i) one at a time. */
function invert4Scalar(xor: boolean, q: Uint32Array, p0: Uint8Array, p1: Uint8Array, p2: Uint8Array, p3: Uint8Array, start: number, from: number, to: number): void {
  for (let i = from, j = start + from; i < to; i++, j++) {
    const z = p0[j] | (p1[j] << 8) | (p2[j] << 16) | (p3[j] << 24);
    q[i] = xor ? q[i] ^ z : q[i] + ((z >>> 1) ^ -(z & 1));
  }
}

/**
 * The w = 4 inverse over 4-byte-aligned planes: reads four plane bytes at once as a 32-bit word per
 * plane and transposes the 4x4 bytes in registers (4 loads per 4 elements instead of 16). Unaligned
 * head and tail elements go through invert4Scalar.
 */
function invert4Words(xor: boolean, q: Uint32Array, p0: Uint8Array, p1: Uint8Array, p2: Uint8Array, p3: Uint8Array, start: number, count: number): void {
  const head = Math.min(count, (4 - (start % 4)) % 4);
  invert4Scalar(xor, q, p0, p1, p2, p3, start, 0, head);
  const words = (count - head) >> 2;
  const w0 = (start + head) >> 2;
  const a0 = new Uint32Array(p0.buffer, p0.byteOffset + w0 * 4, words);
  const a1 = new Uint32Array(p1.buffer, p1.byteOffset + w0 * 4, words);
  const a2 = new Uint32Array(p2.buffer, p2.byteOffset + w0 * 4, words);
  const a3 = new Uint32Array(p3.buffer, p3.byteOffset + w0 * 4, words);
  if (xor) {
    for (let k = 0, i = head; k < words; k++, i += 4) {
      const x0 = a0[k], x1 = a1[k], x2 = a2[k], x3 = a3[k];
      q[i] ^= (x0 & 0xff) | ((x1 & 0xff) << 8) | ((x2 & 0xff) << 16) | (x3 << 24);
      q[i + 1] ^= ((x0 >>> 8) & 0xff) | (x1 & 0xff00) | ((x2 & 0xff00) << 8) | ((x3 & 0xff00) << 16);
      q[i + 2] ^= ((x0 >>> 16) & 0xff) | ((x1 >>> 8) & 0xff00) | (x2 & 0xff0000) | ((x3 & 0xff0000) << 8);
      q[i + 3] ^= (x0 >>> 24) | ((x1 >>> 16) & 0xff00) | ((x2 >>> 8) & 0xff0000) | (x3 & 0xff000000);
    }
  } else {
    for (let k = 0, i = head; k < words; k++, i += 4) {
      const x0 = a0[k], x1 = a1[k], x2 = a2[k], x3 = a3[k];
      const t0 = (x0 & 0xff) | ((x1 & 0xff) << 8) | ((x2 & 0xff) << 16) | (x3 << 24);
      const t1 = ((x0 >>> 8) & 0xff) | (x1 & 0xff00) | ((x2 & 0xff00) << 8) | ((x3 & 0xff00) << 16);
      const t2 = ((x0 >>> 16) & 0xff) | ((x1 >>> 8) & 0xff00) | (x2 & 0xff0000) | ((x3 & 0xff0000) << 8);
      const t3 = (x0 >>> 24) | ((x1 >>> 16) & 0xff00) | ((x2 >>> 8) & 0xff0000) | (x3 & 0xff000000);
      q[i] += (t0 >>> 1) ^ -(t0 & 1);
      q[i + 1] += (t1 >>> 1) ^ -(t1 & 1);
      q[i + 2] += (t2 >>> 1) ^ -(t2 & 1);
      q[i + 3] += (t3 >>> 1) ^ -(t3 & 1);
    }
  }
  invert4Scalar(xor, q, p0, p1, p2, p3, start, head + words * 4, count);
}
