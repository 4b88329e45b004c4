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
