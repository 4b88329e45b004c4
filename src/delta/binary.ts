/**
 * The binary patch method (docs/spec/patch.md §Binary payload): NEW coded as one zstd frame that may
 * reference OLD as a raw-content prefix with a window covering both and long-distance matching on —
 * the `zstd --patch-from` technique, through the codec's native zstd wrapper. Works on any file.
 * Payload = 1 mode byte (0: OLD is the reference, 1: no reference) + the frame. Pure: bytes in,
 * bytes out; no I/O.
 */
import { McdnError } from '../errors.ts';
import { checkFrameSize } from './zstd-guard.ts';
import { zstdCompressWithPrefix, zstdDecompressWithPrefix } from '../codec/zstd.ts';

export const BINARY_MODE_PREFIX = 0;
export const BINARY_MODE_PLAIN = 1;

function startsWithDictMagic(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === 0x37 && b[1] === 0xa4 && b[2] === 0x30 && b[3] === 0xec;
}

export function encodeBinaryPayload(old: Uint8Array, nw: Uint8Array, level = 19): Uint8Array {
  // an OLD that begins with zstd's dictionary magic cannot serve as raw content: code NEW alone
  const mode = startsWithDictMagic(old) ? BINARY_MODE_PLAIN : BINARY_MODE_PREFIX;
  const frame = zstdCompressWithPrefix(nw, mode === BINARY_MODE_PREFIX ? old : new Uint8Array(0), { level, long: true });
  const out = new Uint8Array(1 + frame.length);
  out[0] = mode;
  out.set(frame, 1);
  return out;
}

export function decodeBinaryPayload(payload: Uint8Array, old: Uint8Array, newSize: number, what = 'patch'): Uint8Array {
  if (payload.length < 1 || (payload[0] !== BINARY_MODE_PREFIX && payload[0] !== BINARY_MODE_PLAIN)) {
    throw new McdnError('PATCH_CORRUPT', 'input', `${what}: binary payload has an unknown mode`, { remedy: 'the patch file is damaged; fetch it again' });
  }
  checkFrameSize(payload.subarray(1), newSize, what);
  return zstdDecompressWithPrefix(payload.subarray(1), payload[0] === BINARY_MODE_PREFIX ? old : new Uint8Array(0), newSize);
}
