/**
 * The patch container (docs/spec/patch.md): a 100-byte header — magic "MCDNPTCH", version, method,
 * old/new sizes and sha256s, a header check — followed by the method's payload; and the 72-byte
 * trailer we append to BSDIFF40 patches ("MCDNBSHT" + both sha256s), which Debian's bspatch ignores.
 * `detectPatch` recognizes both forms (and raw Debian BSDIFF40 patches without a trailer). Pure:
 * works on the first/last bytes handed to it; no file I/O, knows nothing of the payloads.
 */
import { createHash } from 'node:crypto';
import { McdnError } from '../errors.ts';
import { BSDIFF_HEADER_BYTES, BSDIFF_MAGIC, readBsdiffHeader } from './bsdiff/bsdiff.ts';

export const PATCH_MAGIC = 'MCDNPTCH';
export const PATCH_VERSION = 1;
export const PATCH_HEADER_BYTES = 100;
export const BSDIFF_TRAILER_MAGIC = 'MCDNBSHT';
export const BSDIFF_TRAILER_BYTES = 72;
/** Largest file size a header may declare (2^53 - 1, exact in a JS number). */
export const MAX_DECLARED_SIZE = Number.MAX_SAFE_INTEGER;

export type PatchMethod = 'binary' | 'tensor' | 'bsdiff';
/** Method ids in the container header; bsdiff patches are raw BSDIFF40 files and have no id. */
export const METHOD_IDS: Record<Exclude<PatchMethod, 'bsdiff'>, number> = { binary: 1, tensor: 2 };

export interface PatchHeader {
  method: PatchMethod;
  /** absent for a raw BSDIFF40 patch made by another tool (no trailer) */
  oldSha256?: string;
  newSha256?: string;
  oldSize?: number;
  newSize: number;
  /** where the method's payload starts and ends inside the patch file */
  payloadOffset: number;
  payloadEnd: number;
}

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

function fromHex(h: string, what: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(h)) throw new McdnError('PATCH_BAD_HASH', 'internal', `${what}: not a sha256 hex digest`);
  return Uint8Array.from(Buffer.from(h, 'hex'));
}

function writeU64(v: DataView, at: number, x: number): void {
  v.setBigUint64(at, BigInt(x), true);
}

function readU64(v: DataView, at: number, what: string, field: string): number {
  const x = v.getBigUint64(at, true);
  if (x > BigInt(MAX_DECLARED_SIZE)) throw new McdnError('PATCH_SIZE_OUT_OF_RANGE', 'input', `${what}: ${field} ${x} is out of range`);
  return Number(x);
}

function headerCheck(first96: Uint8Array): Uint8Array {
  return createHash('sha256').update(first96).digest().subarray(0, 4);
}

/** Encode the 100-byte container header. */
export function encodePatchHeader(h: { method: Exclude<PatchMethod, 'bsdiff'>; oldSha256: string; newSha256: string; oldSize: number; newSize: number }): Uint8Array {
  const b = new Uint8Array(PATCH_HEADER_BYTES);
  const v = new DataView(b.buffer);
  b.set(ascii(PATCH_MAGIC), 0);
  b[8] = PATCH_VERSION;
  b[9] = METHOD_IDS[h.method];
  // 10..15: flags and reserved, zero in version 1
  writeU64(v, 16, h.oldSize);
  writeU64(v, 24, h.newSize);
  b.set(fromHex(h.oldSha256, 'old sha256'), 32);
  b.set(fromHex(h.newSha256, 'new sha256'), 64);
  b.set(headerCheck(b.subarray(0, 96)), 96);
  return b;
}

/** The trailer appended to our BSDIFF40 patches. */
export function encodeBsdiffTrailer(oldSha256: string, newSha256: string): Uint8Array {
  const b = new Uint8Array(BSDIFF_TRAILER_BYTES);
  b.set(fromHex(oldSha256, 'old sha256'), 0);
  b.set(fromHex(newSha256, 'new sha256'), 32);
  b.set(ascii(BSDIFF_TRAILER_MAGIC), 64);
  return b;
}

function startsWith(b: Uint8Array, s: string, at = 0): boolean {
  if (b.length < at + s.length) return false;
  for (let i = 0; i < s.length; i++) if (b[at + i] !== s.charCodeAt(i)) return false;
  return true;
}

/**
 * Recognize a patch from its first bytes (`head`, at least 100 bytes or the whole file) and its last
 * 72 bytes (`tail`); `size` is the patch file's length. `what` names the file in errors.
 */
export function detectPatch(head: Uint8Array, tail: Uint8Array, size: number, what: string): PatchHeader {
  if (startsWith(head, PATCH_MAGIC)) {
    if (size < PATCH_HEADER_BYTES || head.length < PATCH_HEADER_BYTES) {
      throw new McdnError('PATCH_TRUNCATED', 'input', `${what}: truncated patch header (${size} of ${PATCH_HEADER_BYTES} bytes)`, { remedy: 'fetch the patch again' });
    }
    const check = headerCheck(head.subarray(0, 96));
    for (let i = 0; i < 4; i++) {
      if (head[96 + i] !== check[i]) throw new McdnError('PATCH_HEADER_CORRUPT', 'input', `${what}: patch header is corrupt (check bytes do not match)`, { remedy: 'fetch the patch again' });
    }
    if (head[8] !== PATCH_VERSION) {
      throw new McdnError('PATCH_UNSUPPORTED_VERSION', 'input', `${what}: patch format version ${head[8]} is not supported (this build reads version ${PATCH_VERSION})`, { remedy: 'upgrade modelcdn' });
    }
    const id = head[9];
    const method = (Object.keys(METHOD_IDS) as (keyof typeof METHOD_IDS)[]).find((m) => METHOD_IDS[m] === id);
    if (!method) throw new McdnError('PATCH_UNKNOWN_METHOD', 'input', `${what}: unknown patch method id ${id}`, { remedy: 'upgrade modelcdn or recreate the patch' });
    for (let i = 10; i < 16; i++) {
      if (head[i] !== 0) throw new McdnError('PATCH_UNSUPPORTED_FLAGS', 'input', `${what}: patch uses flags this build does not know`, { remedy: 'upgrade modelcdn' });
    }
    const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
    return {
      method,
      oldSize: readU64(v, 16, what, 'old size'),
      newSize: readU64(v, 24, what, 'new size'),
      oldSha256: hex(head.subarray(32, 64)),
      newSha256: hex(head.subarray(64, 96)),
      payloadOffset: PATCH_HEADER_BYTES,
      payloadEnd: size,
    };
  }
  if (startsWith(head, BSDIFF_MAGIC)) {
    const bs = readBsdiffHeader(head, what, size);
    const hasTrailer = tail.length === BSDIFF_TRAILER_BYTES && startsWith(tail, BSDIFF_TRAILER_MAGIC, 64) && size >= BSDIFF_HEADER_BYTES + BSDIFF_TRAILER_BYTES;
    const h: PatchHeader = { method: 'bsdiff', newSize: bs.newSize, payloadOffset: 0, payloadEnd: hasTrailer ? size - BSDIFF_TRAILER_BYTES : size };
    if (hasTrailer) {
      h.oldSha256 = hex(tail.subarray(0, 32));
      h.newSha256 = hex(tail.subarray(32, 64));
    }
    if (BSDIFF_HEADER_BYTES + bs.ctrlLen + bs.diffLen > h.payloadEnd) {
      throw new McdnError('BSDIFF_CORRUPT', 'input', `${what}: block lengths exceed the patch size`, { remedy: 'the patch file is damaged or truncated; fetch it again' });
    }
    return h;
  }
  throw new McdnError('PATCH_BAD_MAGIC', 'input', `${what}: not a modelcdn patch or BSDIFF40 file`, { remedy: 'pass a file made by `modelcdn diff` or bsdiff' });
}
