/**
 * Pure `Range` header handling for byte ranges (RFC 9110 §14.1.2 byte-range syntax, §14.2 Range,
 * §14.4 Content-Range, §15.5.17 416). Only a single range is served as 206; a multi-range request is
 * answered with the whole representation (200), which §14.2 allows ("a server MAY ignore the Range
 * header field"). No I/O here: the origin and the edge both use these functions.
 */

/** A satisfiable byte range, inclusive start, exclusive end (end - start bytes). */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeDecision =
  /** no Range header, a unit other than bytes, a malformed or multi-range header: send the whole representation */
  | { kind: 'full' }
  /** one satisfiable range: 206 with Content-Range */
  | { kind: 'partial'; range: ByteRange }
  /** syntactically valid but no range overlaps the representation: 416 with `Content-Range: bytes *\/size` */
  | { kind: 'unsatisfiable' };

/** Longest Range header we look at; longer ones are ignored (served in full). */
export const MAX_RANGE_HEADER_LENGTH = 1024;

const DIGITS = /^[0-9]+$/;

/**
 * Decide how to answer a Range header for a representation of `size` bytes.
 * Grammar (RFC 9110 §14.1.1): `bytes=` 1#( first-pos "-" [ last-pos ] / "-" suffix-length ).
 */
export function parseRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined || header.length > MAX_RANGE_HEADER_LENGTH) return { kind: 'full' };
  const eq = header.indexOf('=');
  if (eq < 0) return { kind: 'full' };
  if (header.slice(0, eq).trim().toLowerCase() !== 'bytes') return { kind: 'full' };
  const specs = header
    .slice(eq + 1)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (specs.length === 0) return { kind: 'full' };
  const ranges: ByteRange[] = [];
  for (const spec of specs) {
    const dash = spec.indexOf('-');
    if (dash < 0) return { kind: 'full' };
    const a = spec.slice(0, dash).trim();
    const b = spec.slice(dash + 1).trim();
    if (a === '') {
      // suffix range: the last N bytes
      if (!DIGITS.test(b)) return { kind: 'full' };
      const n = Number(b);
      if (!Number.isSafeInteger(n)) return { kind: 'full' };
      if (n === 0 || size === 0) continue; // unsatisfiable part
      ranges.push({ start: Math.max(0, size - n), end: size });
      continue;
    }
    if (!DIGITS.test(a) || (b !== '' && !DIGITS.test(b))) return { kind: 'full' };
    const first = Number(a);
    const last = b === '' ? Infinity : Number(b);
    if (!Number.isSafeInteger(first) || (b !== '' && !Number.isSafeInteger(last))) return { kind: 'full' };
    if (last < first) return { kind: 'full' }; // invalid range-spec: the whole field is invalid (§14.1.1)
    if (first >= size) continue; // unsatisfiable part
    ranges.push({ start: first, end: Math.min(size, last + 1) });
  }
  if (ranges.length === 0) return { kind: 'unsatisfiable' };
  if (ranges.length > 1) return { kind: 'full' };
  return { kind: 'partial', range: ranges[0]! };
}

/** `Content-Range` value of a 206 (RFC 9110 §14.4): `bytes 0-99/1000` (last-pos inclusive). */
export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end - 1}/${size}`;
}

/** `Content-Range` value of a 416: `bytes *\/1000`. */
export function unsatisfiedRange(size: number): string {
  return `bytes */${size}`;
}

/**
 * Parse a `Content-Range` response header (for clients and edges reading a 206).
 * Returns undefined when malformed; `size` is undefined for `bytes 0-9/*`.
 */
export function parseContentRange(header: string | undefined): { start: number; end: number; size: number | undefined } | undefined {
  if (!header) return undefined;
  const m = /^\s*bytes\s+([0-9]+)-([0-9]+)\/([0-9]+|\*)\s*$/i.exec(header);
  if (!m) return undefined;
  const start = Number(m[1]);
  const last = Number(m[2]);
  const size = m[3] === '*' ? undefined : Number(m[3]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(last) || last < start) return undefined;
  if (size !== undefined && (!Number.isSafeInteger(size) || last >= size)) return undefined;
  return { start, end: last + 1, size };
}
