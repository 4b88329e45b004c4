import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { zstdCompress, zstdDecompress, zstdCompressWithPrefix, zstdDecompressWithPrefix, windowLogFor } from './zstd.ts';
import { McdnError } from '../errors.ts';

test('zstd round trip on random buffers and levels', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.integer({ min: 1, max: 9 }), (b, level) => {
      const c = zstdCompress(b, level);
      assert.deepEqual(zstdDecompress(c, b.length), b);
    }),
    { numRuns: 50 },
  );
});

test('zstd output is a standard frame that the zstd tool decodes', { skip: spawnSync('zstd', ['--version']).status !== 0 }, () => {
  const data = new TextEncoder().encode('hello modelcdn '.repeat(100));
  const r = spawnSync('zstd', ['-d', '-c'], { input: zstdCompress(data, 5) });
  assert.equal(r.status, 0);
  assert.deepEqual(new Uint8Array(r.stdout), data);
});

test('corrupt zstd data and wrong expected size throw McdnError', () => {
  const c = zstdCompress(new Uint8Array(1000).fill(7));
  assert.throws(() => zstdDecompress(c.subarray(0, c.length - 3)), McdnError);
  assert.throws(() => zstdDecompress(c, 999), (e: unknown) => e instanceof McdnError && e.code === 'ZSTD_SIZE_MISMATCH');
  assert.throws(() => zstdCompress(c, 99), (e: unknown) => e instanceof McdnError && e.code === 'ZSTD_BAD_LEVEL');
});

test('prefix compression references the old bytes (patch-from style)', () => {
  const old = new Uint8Array(1 << 20);
  for (let i = 0; i < old.length; i++) old[i] = (i * 2654435761) >>> 24; // incompressible alone
  const neu = old.slice();
  neu[1234] ^= 0xff;
  neu[700_000] ^= 0x01;
  const withRef = zstdCompressWithPrefix(neu, old, { level: 3 });
  assert.ok(withRef.length < 10_000, `patch of an incompressible 1 MiB file is ${withRef.length} bytes`);
  assert.deepEqual(zstdDecompressWithPrefix(withRef, old, neu.length), neu);
  assert.throws(() => zstdDecompressWithPrefix(withRef, new Uint8Array(old.length)), McdnError);
  assert.equal(windowLogFor(3 << 20), 22);
});
