import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { createBlobHasher, WORKER_HASH_MIN_BYTES } from './hash-worker.ts';

test('the worker-thread hasher gives the same sha256 as inline hashing, across batch boundaries', async () => {
  const data = randomBytes((9 << 20) + 12345);
  for (const size of [1000, WORKER_HASH_MIN_BYTES]) {
    const h = createBlobHasher(size);
    for (let off = 0; off < data.length; ) {
      const n = Math.min(data.length - off, 1 + ((off * 7919) % (3 << 20)));
      h.update(data.subarray(off, off + n));
      off += n;
    }
    assert.equal(await h.digest(), createHash('sha256').update(data).digest('hex'));
  }
  const empty = createBlobHasher(WORKER_HASH_MIN_BYTES);
  assert.equal(await empty.digest(), createHash('sha256').digest('hex'));
});

test('adopted chunks are hashed in order with copied ones, and their memory comes back', async () => {
  const data = randomBytes((6 << 20) + 777);
  for (const size of [1000, WORKER_HASH_MIN_BYTES]) {
    const h = createBlobHasher(size);
    const back: ArrayBuffer[] = [];
    let adopted = 0;
    for (let off = 0, i = 0; off < data.length; i++) {
      const n = Math.min(data.length - off, 1 + ((off * 7919) % (700 << 10)));
      if (i % 2 === 0) h.update(data.subarray(off, off + n));
      else {
        const own = new Uint8Array(n + 16);
        own.set(data.subarray(off, off + n), 16); // a view that does not start at 0
        h.adopt(own.subarray(16), (m) => back.push(m));
        adopted++;
      }
      off += n;
    }
    assert.equal(await h.digest(), createHash('sha256').update(data).digest('hex'));
    assert.equal(back.length, adopted, 'every adopted buffer is handed back before the digest');
  }
});

test('a process whose only pending work is an answer from the hash worker waits for it (no unsettled exit)', async () => {
  const { execFileSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const mod = fileURLToPath(new URL('./hash-worker.ts', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'mcdn-hw-'));
  const file = join(dir, 'wait.mts');
  // nothing but the worker's "done" is pending: an unref'd worker let the process exit with code 13
  writeFileSync(
    file,
    `const { createBlobHasher, WORKER_HASH_MIN_BYTES } = await import(${JSON.stringify(mod)});
    const h = createBlobHasher(WORKER_HASH_MIN_BYTES);
    const view = new Uint8Array(new SharedArrayBuffer(1 << 20)).fill(7);
    await new Promise((resolve) => h.updateShared(view, resolve));
    process.stdout.write('answered ');
    process.stdout.write(await h.digest());`,
  );
  let out: string;
  try {
    out = execFileSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(out, `answered ${createHash('sha256').update(new Uint8Array(1 << 20).fill(7)).digest('hex')}`);
});
