import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { McdnError } from '../errors.ts';
import { BufferSet, MAX_RETAINED_BUFFER_BYTES, MAX_RETAINED_SET_BYTES, acquireBuffers, prefault, releaseBuffers } from './buffers.ts';
import { OldFile, WINDOW_BYTES } from './old-file.ts';
import { prng } from './test-util.ts';

const dir = mkdtempSync(join(tmpdir(), 'mcdn-oldfile-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SIZE = 2 * WINDOW_BYTES + 12345;
const rnd = prng(5);
const bytes = Uint8Array.from({ length: SIZE }, () => Math.floor(rnd() * 256));
const PATH = join(dir, 'old.bin');
writeFileSync(PATH, bytes);

test('OldFile: ranges in any order (forward, across windows, backward jumps, the tail) read the file exactly', async () => {
  const f = await OldFile.open(PATH, SIZE, new BufferSet());
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: SIZE - 1 }), fc.integer({ min: 0, max: WINDOW_BYTES + 5000 }), fc.boolean()), { minLength: 1, maxLength: 12 }),
        async (reads) => {
          for (const [off, want, viaRead] of reads) {
            const len = Math.min(want, SIZE - off);
            const got = viaRead ? Uint8Array.from(await f.read(off, len)) : new Uint8Array(len);
            if (!viaRead) await f.readInto(got, off);
            assert.deepEqual(got, bytes.subarray(off, off + len));
          }
        },
      ),
      { numRuns: 60 },
    );
    // a sequential scan in small ranges (the decoder's pattern) and the very last byte
    const all = new Uint8Array(SIZE);
    for (let at = 0; at < SIZE; at += 70001) await f.readInto(all.subarray(at, Math.min(SIZE, at + 70001)), at);
    assert.deepEqual(all, bytes);
    assert.deepEqual(await f.read(SIZE - 1, 1), bytes.subarray(SIZE - 1));
  } finally {
    await f.close();
  }
});

test('OldFile: a range past the end, and a file that shrank, fail with McdnError', async () => {
  const f = await OldFile.open(PATH, SIZE, new BufferSet());
  try {
    await assert.rejects(f.read(SIZE - 10, 11), (e: unknown) => e instanceof McdnError && e.code === 'READ_OUT_OF_BOUNDS');
    await assert.rejects(async () => f.readInto(new Uint8Array(4), -1), (e: unknown) => e instanceof McdnError && e.code === 'READ_OUT_OF_BOUNDS');
  } finally {
    await f.close();
  }
  const short = join(dir, 'short.bin');
  writeFileSync(short, bytes.subarray(0, 1000));
  const g = await OldFile.open(short, SIZE, new BufferSet()); // stat'ed larger than it now is
  try {
    await assert.rejects(g.read(500, 1000), (e: unknown) => e instanceof McdnError && e.code === 'FILE_CHANGED');
  } finally {
    await g.close();
  }
  await assert.rejects(OldFile.open(join(dir, 'missing'), 1, new BufferSet()), (e: unknown) => e instanceof McdnError && e.code === 'FILE_NOT_FOUND');
});

test('BufferSet: buffers are reused by key and grown on demand; released sets are reused, huge buffers dropped', () => {
  const s = new BufferSet();
  const a = s.get('a', 100);
  a.fill(7);
  const a2 = s.get('a', 50);
  assert.equal(a2.buffer, a.buffer, 'a smaller request reuses the buffer');
  assert.equal(a2.length, 50);
  const a3 = s.get('a', 200);
  assert.notEqual(a3.buffer, a.buffer, 'a larger request grows it');
  assert.equal(s.get('a', 200).buffer, a3.buffer);
  s.get('big', MAX_RETAINED_BUFFER_BYTES + 1);
  assert.ok(s.bytes > MAX_RETAINED_BUFFER_BYTES);
  s.trim();
  assert.equal(s.bytes, 200);
  for (let i = 0; i < 3; i++) s.get(`mid${i}`, MAX_RETAINED_BUFFER_BYTES); // 3 x 16 MiB: over the set's limit
  s.trim();
  assert.ok(s.bytes <= MAX_RETAINED_SET_BYTES && s.bytes >= MAX_RETAINED_SET_BYTES - MAX_RETAINED_BUFFER_BYTES, `kept ${s.bytes}`);

  const x = acquireBuffers();
  const y = acquireBuffers();
  assert.notEqual(x, y, 'concurrent users get distinct sets');
  releaseBuffers(x);
  releaseBuffers(y);
  const z = acquireBuffers();
  assert.ok(z === x || z === y, 'a released set is handed out again');
  releaseBuffers(z);
});

test('BufferSet.ensure reports only new buffers; prefault leaves them zeroed (or untouched where /dev/zero is missing)', async () => {
  const s = new BufferSet();
  const a = s.ensure('p', 3 << 20);
  assert.ok(a && a.length === 3 << 20);
  assert.equal(s.ensure('p', 1000), undefined, 'big enough already');
  assert.equal(s.get('p', 1000).buffer, a.buffer);
  a.fill(0xab);
  const b = s.ensure('q', 4096)!;
  b.fill(1);
  await prefault([a, b]);
  assert.ok(a.every((x) => x === 0) && b.every((x) => x === 0));
  await prefault([]); // nothing to do
});
