/**
 * Pure `Accept-Encoding` negotiation (RFC 9110 §12.5.3, §8.4.1 content codings) for raw model files
 * served from precompressed variants. The server offers the variants it stored; the client's q-values
 * decide, ties go to the server's preference (smallest variant first). No I/O here.
 */

export type ContentCoding = 'zstd' | 'br' | 'gzip';
export type Coding = ContentCoding | 'identity';

export const CONTENT_CODINGS: readonly ContentCoding[] = ['zstd', 'br', 'gzip'];

/** Longest Accept-Encoding header we parse; longer ones are treated as absent. */
export const MAX_ACCEPT_ENCODING_LENGTH = 2048;

export interface AcceptEntry {
  coding: string;
  q: number;
}

/** Parse `Accept-Encoding` into lower-cased codings with q-values (malformed members are skipped). */
export function parseAcceptEncoding(header: string | undefined): AcceptEntry[] {
  if (header === undefined || header.length > MAX_ACCEPT_ENCODING_LENGTH) return [];
  const out: AcceptEntry[] = [];
  for (const part of header.split(',')) {
    const [rawName, ...params] = part.split(';');
    const coding = (rawName ?? '').trim().toLowerCase();
    if (!/^(\*|[a-z0-9!#$%&'*+.^_`|~-]+)$/.test(coding)) continue;
    let q = 1;
    let ok = true;
    for (const p of params) {
      const m = /^\s*q\s*=\s*(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)\s*$/i.exec(p);
      if (m) q = Number(m[1]);
      else if (/^\s*q\s*=/i.test(p)) ok = false; // malformed weight: ignore the member
    }
    if (ok) out.push({ coding: coding === 'x-gzip' ? 'gzip' : coding, q });
  }
  return out;
}

/** The q-value the header gives `coding` (§12.5.3 rules for `*` and identity). */
export function qualityOf(entries: AcceptEntry[], coding: Coding): number {
  const exact = entries.find((e) => e.coding === coding);
  if (exact) return exact.q;
  const star = entries.find((e) => e.coding === '*');
  if (star) return star.q;
  // identity is acceptable unless excluded, but ranks below every coding the client listed
  return coding === 'identity' ? IMPLICIT_IDENTITY_Q : 0;
}

/** q given to an unlisted identity: acceptable, yet lower than any explicitly listed coding. */
export const IMPLICIT_IDENTITY_Q = 0.0001;

/**
 * Choose the coding to send. `available` lists the stored variants in server preference order
 * (best first). With no Accept-Encoding header the answer is identity (§12.5.3: any coding is
 * acceptable, but identity is the safe choice for clients that did not ask). When nothing is
 * acceptable (e.g. `identity;q=0` and no variant matches) the answer is still identity: we prefer
 * sending the bytes over a 406.
 */
export function negotiateEncoding(header: string | undefined, available: readonly ContentCoding[]): Coding {
  if (header === undefined) return 'identity';
  const entries = parseAcceptEncoding(header);
  let best: Coding = 'identity';
  let bestQ = qualityOf(entries, 'identity');
  for (const c of available) {
    const q = qualityOf(entries, c);
    if (q > 0 && q >= bestQ && (best === 'identity' || q > bestQ)) {
      best = c;
      bestQ = q;
    }
  }
  return best;
}
