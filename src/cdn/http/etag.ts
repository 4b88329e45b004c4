/**
 * Pure entity-tag and conditional-request logic (RFC 9110 §8.8.3 ETag, §13.1 preconditions, §13.2.2
 * evaluation order). Content-addressed blobs use the strong ETag `"<sha256>"`. `planResponse` combines
 * preconditions and Range into one decision (status, range, headers) that the origin and the edge
 * both apply to their own byte sources. No I/O here.
 */
import { contentRange, parseRange, unsatisfiedRange, type ByteRange } from './range.ts';

/** A parsed entity-tag. */
export interface EntityTag {
  weak: boolean;
  /** the opaque-tag without quotes */
  tag: string;
}

/** Strong ETag for a content hash: `"<hash>"`. */
export function strongEtag(hash: string): string {
  return `"${hash}"`;
}

/** Longest If-None-Match / If-Match header we parse. */
export const MAX_ETAG_LIST_LENGTH = 8192;

/**
 * Parse `#entity-tag` or `*` (RFC 9110 §13.1.1/§13.1.2). Returns '*' for the wildcard, an array of
 * tags otherwise; malformed members are skipped (a recipient must not match them).
 */
export function parseEtagList(header: string | undefined): '*' | EntityTag[] {
  if (header === undefined) return [];
  if (header.length > MAX_ETAG_LIST_LENGTH) return [];
  if (header.trim() === '*') return '*';
  const out: EntityTag[] = [];
  const re = /\s*(W\/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = re.exec(header)) !== null) {
    out.push({ weak: m[1] !== undefined, tag: m[2]! });
    last = re.lastIndex;
    if (last >= header.length) break;
  }
  return out;
}

function parseOne(etag: string): EntityTag | undefined {
  const l = parseEtagList(etag);
  return Array.isArray(l) && l.length === 1 ? l[0] : undefined;
}

/** Weak comparison (§8.8.3.2): opaque tags equal, weakness ignored. */
export function weakMatch(a: EntityTag, b: EntityTag): boolean {
  return a.tag === b.tag;
}

/** Strong comparison: both strong and equal. */
export function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.tag === b.tag;
}

/** If-None-Match evaluation (§13.1.2): true when the condition is FALSE, i.e. the tag matches. */
export function noneMatchHits(header: string | undefined, etag: string): boolean {
  const list = parseEtagList(header);
  if (list === '*') return true;
  const cur = parseOne(etag);
  return cur !== undefined && list.some((t) => weakMatch(t, cur));
}

/** If-Match evaluation (§13.1.1): true when the condition holds. Absent header → true. */
export function ifMatchHolds(header: string | undefined, etag: string): boolean {
  if (header === undefined) return true;
  const list = parseEtagList(header);
  if (list === '*') return true;
  const cur = parseOne(etag);
  return cur !== undefined && list.some((t) => strongMatch(t, cur));
}

/**
 * If-Range (§13.1.5): true when the Range header should be honoured. Only an entity-tag validator
 * is accepted here (our representations have no Last-Modified), compared strongly; a date or a weak
 * tag means "send the whole representation".
 */
export function ifRangeHolds(header: string | undefined, etag: string): boolean {
  if (header === undefined) return true;
  const t = parseOne(header.trim());
  const cur = parseOne(etag);
  return t !== undefined && cur !== undefined && strongMatch(t, cur);
}

export type HeaderBag = Record<string, string | string[] | undefined>;

function h(headers: HeaderBag, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

export interface ResponsePlan {
  status: 200 | 206 | 304 | 412 | 416;
  /** bytes to send for 200/206 (undefined for 304/412/416 and for HEAD bodies) */
  range?: ByteRange;
  /** headers to set (besides Content-Type/Cache-Control chosen by the caller) */
  headers: Record<string, string>;
}

/**
 * Decide the response to a GET/HEAD of a representation with the given strong `etag` and `size`,
 * following §13.2.2: If-Match → 412; If-None-Match hit → 304; then Range (subject to If-Range).
 * Lower-case header names are expected (node's `req.headers`).
 */
export function planResponse(headers: HeaderBag, etag: string, size: number): ResponsePlan {
  const base: Record<string, string> = { etag, 'accept-ranges': 'bytes' };
  if (!ifMatchHolds(h(headers, 'if-match'), etag)) return { status: 412, headers: base };
  if (noneMatchHits(h(headers, 'if-none-match'), etag)) return { status: 304, headers: base };
  const rangeHeader = h(headers, 'range');
  if (rangeHeader !== undefined && ifRangeHolds(h(headers, 'if-range'), etag)) {
    const d = parseRange(rangeHeader, size);
    if (d.kind === 'unsatisfiable') return { status: 416, headers: { ...base, 'content-range': unsatisfiedRange(size) } };
    if (d.kind === 'partial') {
      return {
        status: 206,
        range: d.range,
        headers: { ...base, 'content-range': contentRange(d.range, size), 'content-length': String(d.range.end - d.range.start) },
      };
    }
  }
  return { status: 200, range: { start: 0, end: size }, headers: { ...base, 'content-length': String(size) } };
}
