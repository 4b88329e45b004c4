/**
 * A guard for decoding untrusted zstd frames: libzstd's one-shot decoder (as zstd-napi drives it)
 * allocates the output from the Frame_Content_Size in the frame header before decoding, so a
 * corrupted header could ask for gigabytes. `checkFrameSize` reads that field (RFC 8878 §3.1.1.1)
 * and rejects a frame that does not declare exactly the size the patch plan expects. Pure.
 */
import { McdnError } from '../errors.ts';

const ZSTD_MAGIC = 0xfd2fb528;

/** The frame's declared content size, or null if the header lacks it or is not a zstd frame. */
export function frameContentSize(frame: Uint8Array): number | null {
  if (frame.length < 5) return null;
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (dv.getUint32(0, true) !== ZSTD_MAGIC) return null;
  const fhd = frame[4];
  const fcsFlag = fhd >> 6;
  const single = (fhd >> 5) & 1;
  const dictFlag = fhd & 3;
  const at = 5 + (single ? 0 : 1) + [0, 1, 2, 4][dictFlag];
  const fcsBytes = fcsFlag === 0 ? (single ? 1 : 0) : [0, 2, 4, 8][fcsFlag];
  if (fcsBytes === 0 || at + fcsBytes > frame.length) return null;
  switch (fcsBytes) {
    case 1:
      return frame[at];
    case 2:
      return dv.getUint16(at, true) + 256;
    case 4:
      return dv.getUint32(at, true);
    default: {
      const v = dv.getBigUint64(at, true);
      return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
    }
  }
}

/** Throw PATCH_CORRUPT unless `frame` declares exactly `expected` content bytes. */
export function checkFrameSize(frame: Uint8Array, expected: number, what: string): void {
  const n = frameContentSize(frame);
  if (n !== expected) {
    throw new McdnError('PATCH_CORRUPT', 'input', `${what}: compressed block declares ${n ?? 'no'} bytes, expected ${expected}`, { remedy: 'the patch file is damaged or truncated; fetch it again' });
  }
}
