import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { blobStoreTests } from './blob-store-tests.ts';
import { FsBlobStore } from './fs.ts';
import { MemoryBlobStore } from './memory.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'mcdn-store-'));
  dirs.push(d);
  return d;
}

blobStoreTests('memory', async () => new MemoryBlobStore());
blobStoreTests('filesystem', async () => new FsBlobStore(await tempDir()));

describe('FsBlobStore specifics', () => {
  it('leaves no temp files behind after success or a hash mismatch', async () => {
    const root = await tempDir();
    const s = new FsBlobStore(root);
    await s.put(randomBytes(1000));
    await s.put(randomBytes(1000), '0'.repeat(64)).catch(() => {});
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
  });

  it('a failing source leaves no blob and no temp file', async () => {
    const root = await tempDir();
    const s = new FsBlobStore(root);
    const src = (async function* () {
      yield randomBytes(100);
      throw new Error('connection reset');
    })();
    await assert.rejects(s.put(src));
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    assert.equal(await s.totalSize(), 0);
  });

  it('cleanTemp removes stale partial files only', async () => {
    const root = await tempDir();
    const s = new FsBlobStore(root);
    await s.put(randomBytes(10));
    const stale = join(root, 'tmp', 'old.part');
    const fresh = join(root, 'tmp', 'new.part');
    await writeFile(stale, 'x');
    await writeFile(fresh, 'y');
    const old = new Date(Date.now() - 2 * 3600_000);
    await utimes(stale, old, old);
    assert.equal(await s.cleanTemp(), 1);
    assert.deepEqual(await readdir(join(root, 'tmp')), ['new.part']);
  });

  it('puts with a known expectedHash that is already present skip the write', async () => {
    const s = new FsBlobStore(await tempDir());
    const data = randomBytes(64);
    const first = await s.put(data);
    const second = await s.put(data, first.hash);
    assert.equal(second.created, false);
    assert.equal(second.size, 64);
  });
});
