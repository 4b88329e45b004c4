/** Error constructors shared by the BlobStore implementations. */
import { McdnError } from '../errors.ts';
import { isSha256Hex } from '../util/hash.ts';

export function checkHashName(hash: string): void {
  if (!isSha256Hex(hash)) {
    throw new McdnError('BAD_HASH', 'input', `not a sha256 hex digest: '${hash.slice(0, 80)}'`, { details: { hash: hash.slice(0, 80) } });
  }
}

export function blobNotFound(hash: string): McdnError {
  return new McdnError('BLOB_NOT_FOUND', 'not_found', `blob ${hash} is not in the store`, { details: { hash } });
}

export function hashMismatch(expected: string, actual: string): McdnError {
  return new McdnError('BLOB_HASH_MISMATCH', 'integrity', `blob content hashes to ${actual}, expected ${expected}`, {
    details: { expected, actual },
  });
}

export function badRange(hash: string, start: number, end: number, size: number): McdnError {
  return new McdnError('BAD_RANGE', 'input', `range [${start}, ${end}) is outside blob ${hash} of ${size} bytes`, {
    details: { hash, start, end, size },
  });
}
