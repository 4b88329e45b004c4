import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { alignDown, alignUp, BlockRing, DIRECT_ALIGN, DIRECT_BLOCK, openDirect } from './direct-io.ts';
import { createBlobHasher } from './hash-worker.ts';
import { createHash } from 'node:crypto';

test('ring blocks are aligned, distinct views of one shared memory', () => {
  const r = new BlockRing(4);
  assert.ok(r.memory instanceof SharedArrayBuffer);
  const seen = new Set<number>();
  for (let i = 0; i < 4; i++) {
    const b = r.tryTake()!;
    assert.equal(b.bytes.length, DIRECT_BLOCK);
    assert.equal(b.bytes.byteOffset % DIRECT_ALIGN, 0);
    assert.equal(b.bytes.buffer, r.memory);
    seen.add(b.bytes.byteOffset);
  }
  assert.equal(seen.size, 4);
  assert.equal(r.tryTake(), undefined);
});

test('ring: a reserve keeps the last blocks for the caller that must progress; give twice throws; abort rejects waiters', async () => {
  const r = new BlockRing(3);
  const a = await r.take(() => 1);
  const b = await r.take(() => 1);
  assert.equal(r.freeCount, 1);
  let low: unknown;
  let reserve = 1;
  const lowP = r.take(() => reserve).then((x) => (low = x));
  await new Promise((res) => setImmediate(res));
  assert.equal(low, undefined, 'a low-priority take waits while only the reserve is free');
  const c = await r.take(); // reserve 0 gets the last block
  assert.equal(r.freeCount, 0);
  r.give(a);
  await new Promise((res) => setImmediate(res));
  assert.equal(low, undefined, 'one free block is still the reserve');
  reserve = 0;
  r.serve(); // its priority rose
  await lowP;
  assert.equal(low, a, 'the block given back went to the waiter');
  const pending = r.take();
  r.abort(new Error('gone'));
  await assert.rejects(pending, /gone/);
  for (const x of [b, c, a]) r.give(x);
  assert.throws(() => r.give(a), /twice/);
  assert.throws(() => new BlockRing(1).give(b), /wrong ring/);
  assert.ok(r.idle);
});

test('align helpers', () => {
  assert.equal(alignDown(4095), 0);
  assert.equal(alignDown(8193), 8192);
  assert.equal(alignUp(1), 4096);
  assert.equal(alignUp(8192), 8192);
});

test('openDirect: direct writes from ring blocks land on disk (or the platform says no)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mcdn-direct-'));
  try {
    const p = join(dir, 'f');
    const fh = await openDirect(p, false);
    if (!fh) return; // not Linux, or a file system without O_DIRECT: callers fall back
    const r = new BlockRing(2);
    const b = r.tryTake()!;
    for (let i = 0; i < 8192; i++) b.bytes[i] = i & 255;
    await fh.write(b.bytes, 0, 8192, 4096);
    await fh.truncate(4096 + 5000);
    await fh.close();
    const got = readFileSync(p);
    assert.equal(got.length, 9096);
    assert.ok(got.subarray(4096).equals(b.bytes.subarray(0, 5000)));
    // an unaligned buffer is refused by the kernel: the reason for the ring
    const fd = openSync(p, 'r');
    closeSync(fd);
    assert.equal(statSync(p).size, 9096);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hasher: shared ranges hash in place, in order with copied bytes', async () => {
  const r = new BlockRing(2);
  const b = r.tryTake()!;
  b.bytes.fill(7, 0, 300_000);
  const head = Buffer.from('head');
  for (const size of [1 << 10, 128 << 20]) {
    // inline below the worker threshold, worker above it
    const h = createBlobHasher(size);
    h.update(head);
    let done = 0;
    h.updateShared(b.bytes.subarray(100, 300_000), () => done++);
    h.update(head);
    const got = await h.digest();
    assert.equal(done, 1);
    assert.equal(got, createHash('sha256').update(head).update(b.bytes.subarray(100, 300_000)).update(head).digest('hex'));
  }
});

test('FileWriter: any chunking writes the exact bytes, direct or through the page cache', async () => {
  const { FileWriter } = await import('./direct-io.ts');
  const dir = await mkdtemp(join(tmpdir(), 'mcdn-writer-'));
  try {
    const data = Buffer.alloc((5 << 20) + 4321);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 13)) & 255;
    for (const direct of [true, false]) {
      for (const step of [1000, 65536, 3 << 20]) {
        const p = join(dir, `f-${direct}-${step}`);
        const w = await FileWriter.create(p, direct);
        for (let off = 0; off < data.length; off += step) {
          const pending = w.write(data.subarray(off, Math.min(data.length, off + step)));
          if (pending) await pending;
        }
        assert.equal(w.bytesWritten, data.length);
        await w.close();
        assert.ok(readFileSync(p).equals(data), `direct=${direct} (${w.direct}) step=${step}`);
      }
    }
    const empty = await FileWriter.create(join(dir, 'empty'));
    await empty.close();
    assert.equal(statSync(join(dir, 'empty')).size, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
