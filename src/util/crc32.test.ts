import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import fc from 'fast-check';
import { crc32, crc32Native } from './crc32.ts';

test('crc32 matches zlib (check value, random inputs, running CRCs, shared memory) and is the native one here', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
  assert.ok(crc32Native, '@node-rs/crc32 is installed for this platform');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 5000 }), fc.nat(5000), (b, cut) => {
      const k = Math.min(cut, b.length);
      const whole = zlibCrc32(b) >>> 0;
      assert.equal(crc32(b), whole);
      assert.equal(crc32(b.subarray(k), crc32(b.subarray(0, k))), whole);
    }),
    { numRuns: 300 },
  );
  const big = randomBytes(3 << 20);
  const shared = new Uint8Array(new SharedArrayBuffer(big.length + 5), 5);
  shared.set(big);
  assert.equal(crc32(shared), zlibCrc32(big) >>> 0);
});
