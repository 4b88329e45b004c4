/**
 * BSDIFF40 — the patch format of Colin Percival's bsdiff/bspatch 4.3 as Debian ships it.
 * Layout: 32-byte header ("BSDIFF40", ctrl block length, diff block length, new size — offtout
 * sign-magnitude int64 LE), then three bzip2 streams: ctrl (triples of int64: diff length, extra
 * length, old seek), diff (bytewise new-old), extra (literal new bytes). `bsdiff` is the original
 * matching algorithm over an SA-IS suffix array; `bspatch` validates every control triple against
 * the declared sizes (the checks Debian added after CVE-2014-9862) and throws McdnError on any
 * inconsistency. Pure: Uint8Array in, Uint8Array out; no I/O.
 */
import { McdnError } from '../../errors.ts';
import { suffixArrayAndScratch } from '../sais.ts';
import { bzip2Bound, bzip2CompressInto, bzip2Decompress } from './bzip2.ts';

export const BSDIFF_MAGIC = 'BSDIFF40';
export const BSDIFF_HEADER_BYTES = 32;
/** Largest new-file size we agree to materialize from a patch (Number-safe and Uint8Array-safe). */
export const MAX_BSPATCH_NEW_SIZE = 2 ** 32;

/** Write `x` as Debian's offtout: 8 bytes little-endian magnitude, sign in the top bit. */
export function offtout(x: number, buf: Uint8Array, at: number): void {
  let y = Math.abs(x);
  for (let i = 0; i < 8; i++) {
    buf[at + i] = y % 256;
    y = Math.floor(y / 256);
  }
  if (x < 0) buf[at + 7] |= 0x80;
}

/** Read Debian's offtin; values beyond 2^53 are rejected as corrupt. */
export function offtin(buf: Uint8Array, at: number): number {
  // magnitudes of 2^53 and above cannot be represented exactly: reject them as corrupt
  if ((buf[at + 7] & 0x7f) !== 0 || buf[at + 6] >= 0x20) throw new McdnError('BSDIFF_CORRUPT', 'input', 'bsdiff patch: integer out of range');
  let y = buf[at + 7] & 0x7f;
  for (let i = 6; i >= 0; i--) y = y * 256 + buf[at + i];
  return buf[at + 7] & 0x80 ? -y : y;
}

function matchlen(a: Uint8Array, ai: number, b: Uint8Array, bi: number): number {
  const n = Math.min(a.length - ai, b.length - bi);
  let i = 0;
  while (i < n && a[ai + i] === b[bi + i]) i++;
  return i;
}

/** memcmp(old+o, new+p, min(oldsize-o, newsize-p)) < 0 */
function lessThan(old: Uint8Array, o: number, nw: Uint8Array, p: number): boolean {
  const n = Math.min(old.length - o, nw.length - p);
  for (let i = 0; i < n; i++) {
    const a = old[o + i];
    const b = nw[p + i];
    if (a !== b) return a < b;
  }
  return false;
}

/** bsdiff's search: longest match of new[p..] among old's suffixes (binary search in sa). */
function search(sa: Int32Array, old: Uint8Array, nw: Uint8Array, p: number, out: { pos: number }): number {
  let st = 0;
  let en = old.length;
  while (en - st >= 2) {
    const x = st + ((en - st) >> 1);
    if (lessThan(old, sa[x], nw, p)) st = x;
    else en = x;
  }
  const x = matchlen(old, sa[st], nw, p);
  const y = matchlen(old, sa[en], nw, p);
  if (x > y) {
    out.pos = sa[st];
    return x;
  }
  out.pos = sa[en];
  return y;
}

/** Growable byte buffer. */
class Bytes {
  buf: Uint8Array;
  len = 0;
  constructor(cap: number) {
    this.buf = new Uint8Array(Math.max(16, cap));
  }
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  view(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

/** Make a BSDIFF40 patch turning `old` into `nw` (bsdiff 4.3's algorithm, byte-compatible format). */
export function bsdiff(old: Uint8Array, nw: Uint8Array, opts: { trailer?: Uint8Array } = {}): Uint8Array {
  // memory: OLD and NEW, the suffix array (4n) and, while it is built, 3n of working memory; the diff
  // and extra blocks (at most NEW's size each) reuse 2n of that, and the output reuses the suffix
  // array's, so the peak stays that of SA-IS
  const { sa, scratch } = suffixArrayAndScratch(old);
  const oldsize = old.length;
  const newsize = nw.length;
  const room = scratch.length >= 2 * newsize;
  const db = room ? scratch.subarray(0, newsize) : new Uint8Array(newsize);
  const eb = room ? scratch.subarray(newsize, 2 * newsize) : new Uint8Array(newsize);
  let dblen = 0;
  let eblen = 0;
  const ctrl = new Bytes(1024);
  const found = { pos: 0 };

  let scan = 0;
  let len = 0;
  let pos = 0;
  let lastscan = 0;
  let lastpos = 0;
  let lastoffset = 0;
  while (scan < newsize) {
    let oldscore = 0;
    let scsc = (scan += len);
    for (; scan < newsize; scan++) {
      len = search(sa, old, nw, scan, found);
      pos = found.pos;
      for (; scsc < scan + len; scsc++) {
        if (scsc + lastoffset < oldsize && old[scsc + lastoffset] === nw[scsc]) oldscore++;
      }
      if ((len === oldscore && len !== 0) || len > oldscore + 8) break;
      if (scan + lastoffset < oldsize && old[scan + lastoffset] === nw[scan]) oldscore--;
    }
    if (len !== oldscore || scan === newsize) {
      let s = 0;
      let sf = 0;
      let lenf = 0;
      for (let i = 0; lastscan + i < scan && lastpos + i < oldsize; ) {
        if (old[lastpos + i] === nw[lastscan + i]) s++;
        i++;
        if (s * 2 - i > sf * 2 - lenf) {
          sf = s;
          lenf = i;
        }
      }
      let lenb = 0;
      if (scan < newsize) {
        s = 0;
        let sb = 0;
        for (let i = 1; scan >= lastscan + i && pos >= i; i++) {
          if (old[pos - i] === nw[scan - i]) s++;
          if (s * 2 - i > sb * 2 - lenb) {
            sb = s;
            lenb = i;
          }
        }
      }
      if (lastscan + lenf > scan - lenb) {
        const overlap = lastscan + lenf - (scan - lenb);
        s = 0;
        let ss = 0;
        let lens = 0;
        for (let i = 0; i < overlap; i++) {
          if (nw[lastscan + lenf - overlap + i] === old[lastpos + lenf - overlap + i]) s++;
          if (nw[scan - lenb + i] === old[pos - lenb + i]) s--;
          if (s > ss) {
            ss = s;
            lens = i + 1;
          }
        }
        lenf += lens - overlap;
        lenb -= lens;
      }
      for (let i = 0; i < lenf; i++) db[dblen + i] = (nw[lastscan + i] - old[lastpos + i]) & 0xff;
      const extra = scan - lenb - (lastscan + lenf);
      eb.set(nw.subarray(lastscan + lenf, lastscan + lenf + extra), eblen);
      dblen += lenf;
      eblen += extra;
      ctrl.reserve(24);
      offtout(lenf, ctrl.buf, ctrl.len);
      offtout(extra, ctrl.buf, ctrl.len + 8);
      offtout(pos - lenb - (lastpos + lenf), ctrl.buf, ctrl.len + 16);
      ctrl.len += 24;
      lastscan = scan - lenb;
      lastpos = pos - lenb;
      lastoffset = pos - scan;
    }
  }

  // the suffix array is done with: the three bzip2 streams are written straight into its memory
  // (4n bytes, more than they can take when NEW is not much larger than OLD) instead of into
  // growing buffers that are then copied out, so making the patch needs no memory beyond the scan's
  const trailer = opts.trailer ?? new Uint8Array(0);
  const bound = BSDIFF_HEADER_BYTES + bzip2Bound(ctrl.len) + bzip2Bound(dblen) + bzip2Bound(eblen) + trailer.length;
  const out = sa.byteLength >= bound ? new Uint8Array(sa.buffer, sa.byteOffset, sa.byteLength) : new Uint8Array(bound);
  let at = BSDIFF_HEADER_BYTES;
  const clen = bzip2CompressInto(ctrl.view(), out, at);
  at += clen;
  const dlen = bzip2CompressInto(db.subarray(0, dblen), out, at);
  at += dlen;
  at += bzip2CompressInto(eb.subarray(0, eblen), out, at);
  out.set(trailer, at);
  at += trailer.length;
  out.set(new TextEncoder().encode(BSDIFF_MAGIC), 0);
  offtout(clen, out, 8);
  offtout(dlen, out, 16);
  offtout(newsize, out, 24);
  return out.subarray(0, at);
}

export interface BsdiffHeader {
  ctrlLen: number;
  diffLen: number;
  newSize: number;
}

function corrupt(what: string, msg: string, details: Record<string, unknown> = {}): McdnError {
  return new McdnError('BSDIFF_CORRUPT', 'input', `${what}: ${msg}`, { details, remedy: 'the patch file is damaged or truncated; fetch it again' });
}

/** Parse and check the 32-byte header against the patch length (`size`, default: the buffer's). */
export function readBsdiffHeader(patch: Uint8Array, what = 'bsdiff patch', size = patch.length): BsdiffHeader {
  if (patch.length < BSDIFF_HEADER_BYTES || size < BSDIFF_HEADER_BYTES) throw corrupt(what, `truncated header (${Math.min(size, patch.length)} of ${BSDIFF_HEADER_BYTES} bytes)`);
  for (let i = 0; i < 8; i++) {
    if (patch[i] !== BSDIFF_MAGIC.charCodeAt(i)) throw new McdnError('BSDIFF_BAD_MAGIC', 'input', `${what}: not a BSDIFF40 patch`);
  }
  const ctrlLen = offtin(patch, 8);
  const diffLen = offtin(patch, 16);
  const newSize = offtin(patch, 24);
  if (ctrlLen < 0 || diffLen < 0 || newSize < 0) throw corrupt(what, 'negative length in header', { ctrlLen, diffLen, newSize });
  if (BSDIFF_HEADER_BYTES + ctrlLen + diffLen > size) throw corrupt(what, 'block lengths exceed the patch size', { ctrlLen, diffLen, size });
  if (newSize > MAX_BSPATCH_NEW_SIZE) throw new McdnError('BSDIFF_NEW_TOO_LARGE', 'input', `${what}: new size ${newSize} exceeds the ${MAX_BSPATCH_NEW_SIZE}-byte limit`);
  return { ctrlLen, diffLen, newSize };
}

/**
 * Apply a BSDIFF40 patch. `extraEnd` (default: patch length) is where the extra block ends, so a
 * trailer after it (our hash trailer, see docs/spec/patch.md) is ignored as Debian's bspatch does.
 */
export function bspatch(old: Uint8Array, patch: Uint8Array, extraEnd = patch.length, what = 'bsdiff patch'): Uint8Array {
  const h = readBsdiffHeader(patch, what);
  const c0 = BSDIFF_HEADER_BYTES;
  const d0 = c0 + h.ctrlLen;
  const e0 = d0 + h.diffLen;
  if (e0 > extraEnd) throw corrupt(what, 'block lengths exceed the patch size');
  const ctrl = bzip2Decompress(patch.subarray(c0, d0), undefined, what);
  if (ctrl.length % 24 !== 0) throw corrupt(what, 'control block length is not a multiple of 24');
  // sizes of the diff and extra blocks follow from the control entries; check them before decoding
  let diffTotal = 0;
  let extraTotal = 0;
  for (let ci = 0; ci < ctrl.length && diffTotal + extraTotal < h.newSize; ci += 24) {
    const x = offtin(ctrl, ci);
    const y = offtin(ctrl, ci + 8);
    if (x < 0 || y < 0 || diffTotal + extraTotal + x + y > h.newSize) throw corrupt(what, 'control entry out of range', { at: ci });
    diffTotal += x;
    extraTotal += y;
  }
  if (diffTotal + extraTotal !== h.newSize) throw corrupt(what, 'control block ends before the new file is complete');
  const diff = bzip2Decompress(patch.subarray(d0, e0), diffTotal, what);
  const extra = bzip2Decompress(patch.subarray(e0, extraEnd), extraTotal, what);
  const nw = new Uint8Array(h.newSize);
  const oldsize = old.length;
  let oldpos = 0;
  let newpos = 0;
  let ci = 0;
  let di = 0;
  let ei = 0;
  while (newpos < h.newSize) {
    if (ci + 24 > ctrl.length) throw corrupt(what, 'control block ends before the new file is complete');
    const x = offtin(ctrl, ci);
    const y = offtin(ctrl, ci + 8);
    const z = offtin(ctrl, ci + 16);
    ci += 24;
    if (x < 0 || y < 0 || newpos + x > h.newSize) throw corrupt(what, 'control entry out of range', { at: ci - 24 });
    if (di + x > diff.length) throw corrupt(what, 'diff block too short');
    // add old bytes where the old range overlaps the old file
    const lo = Math.max(0, -oldpos);
    const hi = Math.min(x, oldsize - oldpos);
    nw.set(diff.subarray(di, di + x), newpos);
    for (let i = lo; i < hi; i++) nw[newpos + i] = (nw[newpos + i] + old[oldpos + i]) & 0xff;
    di += x;
    newpos += x;
    oldpos += x;
    if (newpos + y > h.newSize) throw corrupt(what, 'control entry out of range', { at: ci - 24 });
    if (ei + y > extra.length) throw corrupt(what, 'extra block too short');
    nw.set(extra.subarray(ei, ei + y), newpos);
    ei += y;
    newpos += y;
    oldpos += z;
  }
  return nw;
}
