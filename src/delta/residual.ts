/**
 * Residuals between an old and a new tensor of the same dtype and length, element by element:
 * 'x' — XOR of the bit patterns (any width); 's' — wrapping difference new − old of the little-endian
 * w-byte words, zigzag-mapped so small changes of either sign give small unsigned words (w = 1, 2, 4).
 * For floats of one sign, the difference of bit patterns is the change in units in the last place,
 * so a 1e-3 relative update leaves the high bytes of the residual zero. Also an order-0 entropy
 * estimate per byte plane, used to choose the cheapest coding. Pure functions over Uint8Array.
 */

export type ResidualOp = 'x' | 's';

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Ops allowed for an element width (the decoder rejects anything else). */
export function opAllowed(op: string, w: number): op is ResidualOp {
  if (op === 'x') return w === 1 || w === 2 || w === 4 || w === 8;
  if (op === 's') return w === 1 || w === 2 || w === 4;
  return false;
}

function aligned(b: Uint8Array, w: number): Uint8Array {
  return b.byteOffset % w === 0 ? b : b.slice();
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

/** Interleave a run of plane bytes back into elements (the inverse of byte-plane grouping). */
export function joinRun(w: number, r: PlaneRun): Uint8Array {
  const { planes, start, count } = r;
  const out = new Uint8Array(count * w);
  if (w === 1) {
    out.set(planes[0].subarray(start, start + count));
    return out;
  }
  if (w === 4 && LITTLE_ENDIAN) {
    const [p0, p1, p2, p3] = planes;
    const o = new Uint32Array(out.buffer);
    for (let i = 0, j = start; i < count; i++, j++) o[i] = p0[j] | (p1[j] << 8) | (p2[j] << 16) | (p3[j] << 24);
    return out;
  }
  for (let k = 0; k < w; k++) {
    const p = planes[k];
    for (let i = 0; i < count; i++) out[i * w + k] = p[start + i];
  }
  return out;
}

/** new = inverse(op)(old, residual) where the residual is a plane run: join and invert in one pass. */
export function inverseResidualRun(op: ResidualOp, w: number, old: Uint8Array, r: PlaneRun): Uint8Array {
  assertLE();
  if (w !== 4 && w !== 2) return inverseResidual(op, w, old, joinRun(w, r));
  const { planes, start, count } = r;
  const out = new Uint8Array(count * w);
  if (w === 4) {
    const [p0, p1, p2, p3] = planes;
    const o = words(old, 4) as Uint32Array;
    const q = new Uint32Array(out.buffer);
    if (op === 'x') {
      for (let i = 0, j = start; i < count; i++, j++) q[i] = o[i] ^ (p0[j] | (p1[j] << 8) | (p2[j] << 16) | (p3[j] << 24));
    } else {
      for (let i = 0, j = start; i < count; i++, j++) {
        const z = p0[j] | (p1[j] << 8) | (p2[j] << 16) | (p3[j] << 24);
        q[i] = o[i] + ((z >>> 1) ^ -(z & 1));
      }
    }
    return out;
  }
  const [p0, p1] = planes;
  const o = words(old, 2) as Uint16Array;
  const q = new Uint16Array(out.buffer);
  if (op === 'x') {
    for (let i = 0, j = start; i < count; i++, j++) q[i] = o[i] ^ (p0[j] | (p1[j] << 8));
  } else {
    for (let i = 0, j = start; i < count; i++, j++) {
      const z = p0[j] | (p1[j] << 8);
      q[i] = o[i] + ((z >>> 1) ^ -(z & 1));
    }
  }
  return out;
}
