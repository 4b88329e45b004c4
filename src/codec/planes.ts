/**
 * Byte-plane grouping: for elements of `width` bytes, gather byte k of every element into plane k.
 * FP32 weights then become four planes — the sign/exponent plane is highly redundant while the low
 * mantissa planes are near-random — and zstd finds far more to work with. Pure, allocation-light
 * functions over Uint8Array; a trailing partial element (length % width bytes) is kept verbatim at
 * the end. Knows nothing of files or the container.
 */

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
  if (width === 4 && LITTLE_ENDIAN && n % 4 === 0) {
    split4x4(bytes, out, n);
  } else if (width === 4 && LITTLE_ENDIAN) {
    // read whole 32-bit words (copy first if the view is unaligned)
    const src = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
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
  if (width === 4 && LITTLE_ENDIAN && n % 4 === 0) {
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
  const src = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
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
  const src = planes.byteOffset % 4 === 0 ? planes : planes.slice();
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

/** A fresh, unpooled buffer without zero-filling (callers overwrite every byte; safe to transfer). */
export function uninitialized(n: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Widths the container allows for byte-plane grouping (1 = no grouping). */
export const MAX_PLANE_WIDTH = 16;

function checkWidth(width: number): void {
  if (!Number.isInteger(width) || width < 1 || width > MAX_PLANE_WIDTH) {
    throw new RangeError(`plane width ${width} must be an integer in 1..${MAX_PLANE_WIDTH}`);
  }
}
