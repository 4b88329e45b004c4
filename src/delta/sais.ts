/**
 * Suffix array construction by induced sorting (SA-IS, Nong, Zhang & Chan 2009), O(n) time.
 * `suffixArray(bytes)` returns an Int32Array of length n+1 whose entry 0 is n (the empty suffix),
 * followed by the start positions of all suffixes of `bytes` in lexicographic order — the layout
 * bsdiff's search expects. Memory: the input, a 16-bit copy with a sentinel (2n), the result (4n),
 * one type byte per position (n), and the recursion, which keeps the reduced string, its suffix array,
 * its buckets and (mostly) its type bytes inside the result array: ≈ 8n in all with the input
 * (measured: `npm run bench:delta` prints bsdiff's peak memory). Pure: no I/O, touches nothing else.
 */

/** Inputs larger than this cannot be indexed by an Int32Array suffix array. */
export const MAX_SAIS_INPUT = 0x7fff_fff0;

type Str = Uint16Array | Int32Array;

/**
 * Bucket starts (or ends, with `end`) of the alphabet into `bkt`, from `counts` — or, without counts
 * (a reduced alphabet too large to keep them beside the buckets), from a fresh count over `s`.
 */
function getBuckets(s: Str, n: number, counts: Int32Array | null, bkt: Int32Array, end: boolean): void {
  const k = bkt.length;
  if (!counts) {
    bkt.fill(0);
    for (let i = 0; i < n; i++) bkt[s[i]]++;
  }
  const c = counts ?? bkt;
  let sum = 0;
  if (end) {
    for (let i = 0; i < k; i++) {
      sum += c[i];
      bkt[i] = sum;
    }
  } else {
    for (let i = 0; i < k; i++) {
      const x = c[i];
      bkt[i] = sum;
      sum += x;
    }
  }
}

function induceL(t: Uint8Array, sa: Int32Array, s: Str, counts: Int32Array | null, bkt: Int32Array, n: number): void {
  getBuckets(s, n, counts, bkt, false);
  for (let i = 0; i < n; i++) {
    const j = sa[i] - 1;
    if (j >= 0 && t[j] === 0) sa[bkt[s[j]]++] = j;
  }
}

function induceS(t: Uint8Array, sa: Int32Array, s: Str, counts: Int32Array | null, bkt: Int32Array, n: number): void {
  getBuckets(s, n, counts, bkt, true);
  for (let i = n - 1; i >= 0; i--) {
    const j = sa[i] - 1;
    if (j >= 0 && t[j] === 1) sa[--bkt[s[j]]] = j;
  }
}

/**
 * Core SA-IS over `s[0..n)` whose last symbol is a unique smallest sentinel (0); alphabet [0, k).
 * Writes the suffix array into `sa[0..n)`. `work`, when given, is memory nobody else uses during the
 * call: the buckets, the type array and the symbol counts are carved from it where they fit, instead
 * of being allocated (the recursion passes the part of `sa` between the reduced string and its
 * suffix array, which is free while the reduced problem is solved: without it, the buckets and
 * counts of a reduced alphabet of ~n/3 names cost ~2.7n bytes more at the peak).
 */
function sais(s: Str, sa: Int32Array, n: number, k: number, work?: Int32Array): void {
  let free = work ?? new Int32Array(0);
  const take = (len: number): Int32Array => {
    if (free.length < len) return new Int32Array(len);
    const a = free.subarray(0, len);
    free = free.subarray(len);
    a.fill(0);
    return a;
  };
  const bkt = take(k);
  // t[i] = 1 for S-type, 0 for L-type: n bytes, carved from the work memory like the rest
  const tWords = take(Math.ceil(n / 4));
  const t = new Uint8Array(tWords.buffer, tWords.byteOffset, n);
  // the symbol counts are kept when there is room for them or the alphabet is small; otherwise the
  // buckets are recounted each time they are needed (one more pass over s, no 4k more bytes)
  const counts = free.length >= k ? take(k) : k <= 1 << 16 ? new Int32Array(k) : null;
  t[n - 1] = 1;
  if (n >= 2) t[n - 2] = 0;
  for (let i = n - 3; i >= 0; i--) {
    const a = s[i];
    const b = s[i + 1];
    t[i] = a < b || (a === b && t[i + 1] === 1) ? 1 : 0;
  }

  if (counts) for (let i = 0; i < n; i++) counts[s[i]]++;

  // stage 1: sort LMS substrings
  getBuckets(s, n, counts, bkt, true);
  sa.fill(-1, 0, n);
  for (let i = 1; i < n; i++) if (t[i] === 1 && t[i - 1] === 0) sa[--bkt[s[i]]] = i;
  induceL(t, sa, s, counts, bkt, n);
  induceS(t, sa, s, counts, bkt, n);

  // compact the sorted LMS substrings into sa[0..n1)
  let n1 = 0;
  for (let i = 0; i < n; i++) {
    const p = sa[i];
    if (p > 0 && t[p] === 1 && t[p - 1] === 0) sa[n1++] = p;
  }
  // name them
  sa.fill(-1, n1, n);
  let name = 0;
  let prev = -1;
  for (let i = 0; i < n1; i++) {
    const pos = sa[i];
    let diff = false;
    for (let d = 0; d < n; d++) {
      if (prev === -1 || s[pos + d] !== s[prev + d] || t[pos + d] !== t[prev + d]) {
        diff = true;
        break;
      } else if (d > 0 && ((t[pos + d] === 1 && t[pos + d - 1] === 0) || (t[prev + d] === 1 && t[prev + d - 1] === 0))) {
        break;
      }
    }
    if (diff) {
      name++;
      prev = pos;
    }
    sa[n1 + (pos >> 1)] = name - 1;
  }
  for (let i = n - 1, j = n - 1; i >= n1; i--) if (sa[i] >= 0) sa[j--] = sa[i];

  // stage 2: solve the reduced problem (s1 lives at the end of sa, sa1 at its start)
  const s1 = sa.subarray(n - n1, n);
  const sa1 = sa.subarray(0, n1);
  if (name < n1) {
    sais(s1, sa1, n1, name, sa.subarray(n1, n - n1));
  } else {
    for (let i = 0; i < n1; i++) sa1[s1[i]] = i;
  }

  // stage 3: induce the full suffix array from the sorted LMS suffixes
  getBuckets(s, n, counts, bkt, true);
  for (let i = 1, j = 0; i < n; i++) if (t[i] === 1 && t[i - 1] === 0) s1[j++] = i;
  for (let i = 0; i < n1; i++) sa1[i] = s1[sa1[i]];
  sa.fill(-1, n1, n);
  for (let i = n1 - 1; i >= 0; i--) {
    const j = sa[i];
    sa[i] = -1;
    sa[--bkt[s[j]]] = j;
  }
  induceL(t, sa, s, counts, bkt, n);
  induceS(t, sa, s, counts, bkt, n);
}

/** Suffix array of `bytes` with the empty suffix first (length n+1, entry 0 = n). */
export function suffixArray(bytes: Uint8Array): Int32Array {
  return suffixArrayAndScratch(bytes).sa;
}

/**
 * `suffixArray`, plus the 2(n+1) bytes of working memory it used for the 16-bit copy of the input,
 * free for the caller's own use afterwards (bsdiff builds its diff and extra blocks there instead of
 * allocating 2n more bytes while the copy still waits for a garbage collection).
 */
export function suffixArrayAndScratch(bytes: Uint8Array): { sa: Int32Array; scratch: Uint8Array } {
  const n = bytes.length;
  if (n > MAX_SAIS_INPUT) throw new RangeError(`suffixArray: input of ${n} bytes exceeds ${MAX_SAIS_INPUT}`);
  if (n === 0) return { sa: Int32Array.of(0), scratch: new Uint8Array(0) };
  const s = new Uint16Array(n + 1);
  for (let i = 0; i < n; i++) s[i] = bytes[i] + 1;
  s[n] = 0;
  const sa = new Int32Array(n + 1);
  sais(s, sa, n + 1, 257);
  return { sa, scratch: new Uint8Array(s.buffer) };
}

/** Slow reference (sort by comparison) for tests: same layout as `suffixArray`. */
export function suffixArrayNaive(bytes: Uint8Array): Int32Array {
  const n = bytes.length;
  const idx = Array.from({ length: n + 1 }, (_, i) => i);
  idx.sort((a, b) => {
    while (a < n && b < n) {
      if (bytes[a] !== bytes[b]) return bytes[a] - bytes[b];
      a++;
      b++;
    }
    return a === n ? (b === n ? 0 : -1) : 1;
  });
  return Int32Array.from(idx);
}
