import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createPolicy, POLICY_NAMES, DEFAULT_POLICY, PolicyCache } from './index.ts';
import { McdnError } from '../../errors.ts';

for (const name of POLICY_NAMES) {
  test(`${name}: never exceeds the byte budget, never evicts a pinned key, index stays consistent`, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 50, max: 400 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 1, max: 120 }), fc.integer({ min: 0, max: 9 })), { minLength: 1, maxLength: 300 }),
        (capacity, reqs) => {
          const cache = new PolicyCache(createPolicy(name, capacity), capacity);
          const pinned = new Set<string>();
          reqs.forEach(([id, sz, action], now) => {
            const key = `o${id}`;
            const size = 1 + ((id * 37 + sz * 0) % 120); // a key's size is fixed (content-addressed blobs)
            const wasResident = cache.has(key);
            const res = cache.access(key, size, now);
            if (res === 'hit') assert.ok(wasResident);
            for (const v of cache.lastEvicted) assert.ok(!pinned.has(v), `evicted pinned ${v}`);
            for (const p of pinned) assert.ok(cache.has(p), `pinned ${p} disappeared`);
            assert.ok(cache.usedBytes <= capacity);
            if (action === 0 && cache.has(key)) {
              cache.pin(key);
              pinned.add(key);
            } else if (action === 1 && pinned.size > 0) {
              const p = [...pinned][0]!;
              cache.unpin(p);
              pinned.delete(p);
            } else if (action === 2 && !pinned.has(key)) {
              cache.remove(key);
            }
          });
          let sum = 0;
          for (const k of cache.keys()) sum += cache.sizeOf(k)!;
          assert.equal(sum, cache.usedBytes);
          // when every resident key is pinned, the policy names no victim
          for (const k of [...cache.keys()]) cache.pin(k);
          assert.equal(cache.policy.victim((k) => cache.isPinnedKey(k)), undefined);
        },
      ),
      { numRuns: 150 },
    );
  });
}

test('a resident key whose size changed is replaced (and loses its pin)', () => {
  const c = new PolicyCache(createPolicy('lru', 100), 100);
  c.access('a', 10, 0);
  c.pin('a');
  assert.equal(c.access('a', 20, 1), 'miss');
  assert.equal(c.sizeOf('a'), 20);
  assert.equal(c.usedBytes, 20);
  assert.equal(c.isPinnedKey('a'), false);
});

test('PolicyCache.insert: lastEvicted lists only that call\'s evictions; force skips admission', () => {
  const c = new PolicyCache(createPolicy('tinylfu', 20), 20);
  c.insert('a', 10, 0);
  c.insert('b', 10, 1);
  assert.equal(c.insert('c', 10, 2, true), true); // prefetch: forced past the admission filter
  assert.equal(c.lastEvicted.length, 1);
  c.pin('c');
  assert.equal(c.insert('c', 10, 3), true); // already resident
  assert.deepEqual(c.lastEvicted, []);
  assert.equal(c.insert('huge', 30, 4, true), false); // larger than the cache
  assert.deepEqual(c.lastEvicted, []);
});

test('lru: victim order on a hand case', () => {
  const c = new PolicyCache(createPolicy('lru', 30), 30);
  c.access('a', 10, 0);
  c.access('b', 10, 1);
  c.access('c', 10, 2);
  c.access('a', 10, 3); // a becomes most recent
  c.access('d', 10, 4); // evicts b
  assert.deepEqual(c.lastEvicted, ['b']);
  c.pin('c');
  c.access('e', 10, 5); // c is oldest but pinned → a
  assert.deepEqual(c.lastEvicted, ['a']);
  assert.deepEqual([...c.keys()].sort(), ['c', 'd', 'e']);
});

test('gdsf: evicts the lowest freq/size, ages with L', () => {
  const c = new PolicyCache(createPolicy('gdsf', 100), 100);
  c.access('big', 50, 0); // 1/50
  c.access('small', 10, 1); // 1/10
  c.access('mid', 40, 2); // 1/40
  c.access('new', 10, 3); // needs 10 bytes: victim is big (lowest 1/50)
  assert.deepEqual(c.lastEvicted, ['big']);
  // L rose to 1/50 = 0.02; priorities: small 0.1, new 0.02+0.1, mid after a hit 0.02+2/40 = 0.07
  c.access('mid', 40, 4);
  c.access('x', 25, 5); // used 60 + 25 = 85 ≤ 100 → no eviction; x = 0.02 + 1/25 = 0.06
  assert.deepEqual(c.lastEvicted, []);
  c.access('y', 30, 6); // needs 15 bytes: the lowest priority is x
  assert.deepEqual(c.lastEvicted, ['x']);
  c.access('z', 40, 7); // needs 25 more: mid (0.07) before small (0.1) even though mid is bigger
  assert.deepEqual(c.lastEvicted, ['mid']);
});

test('lfuda: size-oblivious, evicts the least frequent, then ages', () => {
  const c = new PolicyCache(createPolicy('lfuda', 30), 30);
  c.access('a', 10, 0);
  c.access('a', 10, 1);
  c.access('a', 10, 2); // freq 3
  c.access('b', 10, 3);
  c.access('b', 10, 4); // freq 2
  c.access('c', 10, 5); // freq 1
  c.access('d', 10, 6); // evicts c (freq 1); L = 1
  assert.deepEqual(c.lastEvicted, ['c']);
  c.access('e', 10, 7); // d has priority L+1 = 2 (inserted after L was 1)… b has 2 and is older → b
  assert.deepEqual(c.lastEvicted, ['b']);
});

test('createPolicy: unknown name and bad capacity are input errors', () => {
  assert.throws(() => createPolicy('nope', 10), (e: unknown) => e instanceof McdnError && e.code === 'UNKNOWN_POLICY');
  assert.throws(() => createPolicy('lru', 0), (e: unknown) => e instanceof McdnError && e.code === 'BAD_CAPACITY');
  assert.ok(POLICY_NAMES.includes(DEFAULT_POLICY));
  assert.equal(createPolicy('default', 10).name, DEFAULT_POLICY);
});

test('s3fifo: one-hit objects leave from the small queue, re-requested ones are promoted, ghosts go to main', () => {
  const c = new PolicyCache(createPolicy('s3fifo', 40), 40); // small queue target = 4 bytes
  for (const [i, k] of ['a', 'b', 'c', 'd'].entries()) c.access(k, 10, i);
  c.access('b', 10, 4); // b hit while in the small queue
  c.access('e', 10, 5);
  assert.deepEqual(c.lastEvicted, ['a']); // oldest, never re-requested
  c.access('f', 10, 6);
  assert.deepEqual(c.lastEvicted, ['c']); // b was promoted to main instead of evicted
  c.access('a', 10, 7); // a is remembered by the ghost queue → inserted into main
  assert.deepEqual(c.lastEvicted, ['d']);
  c.access('g', 10, 8);
  assert.deepEqual(c.lastEvicted, ['e']);
  c.access('h', 10, 9);
  assert.deepEqual(c.lastEvicted, ['f']);
  assert.deepEqual([...c.keys()].sort(), ['a', 'b', 'g', 'h']);
});

test('tinylfu: a one-time object does not displace a frequently requested one', () => {
  const c = new PolicyCache(createPolicy('tinylfu', 20), 20);
  for (let i = 0; i < 5; i++) {
    c.access('hot1', 10, i);
    c.access('hot2', 10, i);
  }
  assert.equal(c.access('once', 10, 10), 'bypass');
  assert.ok(c.has('hot1') && c.has('hot2'));
  // a key that keeps coming back earns admission
  let admitted = false;
  for (let i = 0; i < 12 && !admitted; i++) admitted = c.access('rising', 10, 11 + i) !== 'bypass';
  assert.ok(admitted);
});

test('scan resistance: s3fifo, tinylfu and wtinylfu keep a hot set through a one-time scan; lru does not', () => {
  const run = (name: string) => {
    const c = new PolicyCache(createPolicy(name, 1000), 1000);
    let now = 0;
    for (let round = 0; round < 5; round++) for (let k = 0; k < 5; k++) c.access(`hot${k}`, 100, now++);
    for (let s = 0; s < 200; s++) c.access(`scan${s}`, 100, now++);
    let hits = 0;
    for (let k = 0; k < 5; k++) if (c.access(`hot${k}`, 100, now++) === 'hit') hits++;
    return hits;
  };
  assert.equal(run('lru'), 0);
  for (const name of ['s3fifo', 'tinylfu', 'wtinylfu']) assert.equal(run(name), 5, name);
});

test('s3fifo largeFactor: an object larger than the small queue is admitted on its second request', async () => {
  const { S3FifoPolicy } = await import('./s3fifo.ts');
  const c = new PolicyCache(new S3FifoPolicy(100, { largeFactor: 1 }), 100); // small queue: 10 bytes
  assert.equal(c.access('big', 40, 0), 'bypass'); // remembered by the ghost queue only
  assert.equal(c.access('small', 5, 1), 'miss');
  assert.equal(c.access('big', 40, 2), 'miss'); // second request: admitted to main
  assert.equal(c.access('big', 40, 3), 'hit');
  assert.equal(c.insert('huge', 50, 4, true), true); // a forced insert (prefetch) skips admission
  const off = new PolicyCache(new S3FifoPolicy(100), 100);
  assert.equal(off.access('big', 40, 0), 'miss'); // default: admit everything
});
