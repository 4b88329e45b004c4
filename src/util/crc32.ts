/**
 * CRC-32 (ISO-HDLC, the zlib/gzip CRC) at memory speed: @node-rs/crc32 (a prebuilt native addon from
 * the npm registry; PCLMULQDQ/SIMD, ~9.4 GB/s here) where it loads, else node:zlib's crc32 (~3.5 GB/s
 * here). Both give the same values; `crc32(b, prev)` continues a running CRC. Every decoded chunk's
 * payload is checked with it, so on a packed pull it was 6 % of the client's CPU with zlib.
 */
import { createRequire } from 'node:module';
import { crc32 as zlibCrc32 } from 'node:zlib';

type Crc32 = (input: Uint8Array, initial?: number) => number;

function load(): { fn: Crc32; native: boolean } {
  if (process.env['MODELCDN_CRC32'] !== 'zlib') {
    try {
      const m = createRequire(import.meta.url)('@node-rs/crc32') as { crc32: (input: Uint8Array, initialState?: number | null) => number };
      if (m.crc32(Buffer.from('123456789')) >>> 0 === 0xcbf43926) return { fn: (b, i) => m.crc32(b, i ?? 0) >>> 0, native: true };
    } catch {
      // not installed for this platform: zlib's
    }
  }
  return { fn: (b, i) => zlibCrc32(b, i ?? 0) >>> 0, native: false };
}

const impl = load();

/** CRC-32 of `b` (unsigned), continuing from `initial` (the CRC of the bytes before it) if given. */
export const crc32: Crc32 = impl.fn;
/** true when the fast native implementation is in use (tests, diagnostics) */
export const crc32Native = impl.native;
