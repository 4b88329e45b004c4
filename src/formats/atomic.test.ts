import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EARLY_SYNC_BYTES, writeFileAtomic } from './atomic.ts';

test('writeFileAtomic: a durable write flushed early on the way gives the exact bytes; a failing fill leaves the old file and no temp', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mcdn-atomic-'));
  try {
    const path = join(dir, 'f.bin');
    await writeFile(path, 'old');
    const data = randomBytes(3 * EARLY_SYNC_BYTES + 12345); // several early datasyncs, one in flight at a time
    for (const durable of [true, false]) {
      const n = await writeFileAtomic(
        path,
        async (w) => {
          for (let off = 0; off < data.length; off += 1_000_003) await w.write(data.subarray(off, Math.min(data.length, off + 1_000_003)));
        },
        { durable },
      );
      assert.equal(n, data.length);
      assert.ok((await readFile(path)).equals(data));
    }
    await assert.rejects(
      writeFileAtomic(path, async (w) => {
        await w.write(data.subarray(0, EARLY_SYNC_BYTES + 1));
        throw new Error('producer failed');
      }),
      /producer failed/,
    );
    assert.ok((await readFile(path)).equals(data), 'the previous file is untouched');
    assert.deepEqual(await readdir(dir), ['f.bin'], 'no temp file left');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
