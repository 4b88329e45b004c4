import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { fixture } from '../../test/fixtures.ts';
import { POLICY_NAMES } from '../cdn/eviction/index.ts';
import { TraceBuilder, parseAdaptSize, uniqueBytes, type Trace } from './trace.ts';
import { simulate } from './simulate.ts';
import { syntheticTrace } from './synthetic.ts';

function makeTrace(reqs: [string, number][]): Trace {
  const b = new TraceBuilder(reqs.length);
  reqs.forEach(([k, s], i) => b.push(k, s, i));
  return b.build();
}

/**
 * Exhaustive optimum: the minimum missed bytes over every admission/eviction choice (on a miss:
 * bypass, or evict any subset of residents so the object fits). Exponential; tiny traces only.
 */
function bruteForceMissBytes(reqs: [string, number][], capacity: number): number {
  const sizeOf = new Map(reqs.map(([k, s]) => [k, s]));
  const memo = new Map<string, number>();
  const go = (i: number, cache: string[]): number => {
    if (i === reqs.length) return 0;
    const memoKey = `${i}|${cache.join(',')}`;
    const m = memo.get(memoKey);
    if (m !== undefined) return m;
    const [k, s] = reqs[i]!;
    let best: number;
    if (cache.includes(k)) best = go(i + 1, cache);
    else {
      best = s + go(i + 1, cache); // bypass
      const n = cache.length;
      for (let mask = 0; mask < 1 << n; mask++) {
        const kept = cache.filter((_, j) => !(mask & (1 << j)));
        const used = kept.reduce((a, x) => a + sizeOf.get(x)!, 0);
        if (used + s <= capacity) best = Math.min(best, s + go(i + 1, [...kept, k].sort()));
      }
    }
    memo.set(memoKey, best);
    return best;
  };
  return go(0, []);
}

const smallTrace = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 12 });

test('belady: optimal with equal sizes (matches brute force), and a lower bound for every online policy', () => {
  fc.assert(
    fc.property(smallTrace, fc.integer({ min: 1, max: 3 }), (ids, slots) => {
      const reqs = ids.map((i) => [`o${i}`, 10] as [string, number]);
      const t = makeTrace(reqs);
      const opt = bruteForceMissBytes(reqs, slots * 10);
      const bel = simulate(t, { policy: 'belady', capacityBytes: slots * 10 });
      assert.equal(bel.bytesRequested - bel.bytesHit, opt);
      for (const p of POLICY_NAMES) {
        const r = simulate(t, { policy: p, capacityBytes: slots * 10 });
        assert.ok(r.bytesRequested - r.bytesHit >= opt, `${p} beat the optimum`);
      }
    }),
    { numRuns: 200 },
  );
});

test('belady: with variable sizes it is a heuristic — never better than the exhaustive optimum, close to it', () => {
  let sumBel = 0;
  let sumOpt = 0;
  fc.assert(
    fc.property(smallTrace, fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 5, maxLength: 5 }), fc.integer({ min: 5, max: 20 }), (ids, sizes, cap) => {
      const reqs = ids.map((i) => [`o${i}`, sizes[i]!] as [string, number]);
      const opt = bruteForceMissBytes(reqs, cap);
      const bel = simulate(makeTrace(reqs), { policy: 'belady', capacityBytes: cap });
      const belMiss = bel.bytesRequested - bel.bytesHit;
      assert.ok(belMiss >= opt);
      sumBel += belMiss;
      sumOpt += opt;
    }),
    { numRuns: 150 },
  );
  assert.ok(sumBel <= sumOpt * 1.1, `belady ${sumBel} vs optimum ${sumOpt}`);
});

test('simulate: LRU matches a slow reference LRU on the real AdaptSize trace (golden figures)', () => {
  const t = parseAdaptSize(readFileSync(fixture('traces', 'adaptsize_request.trace')));
  const cap = Math.round(uniqueBytes(t) * 0.05);
  const r = simulate(t, { policy: 'lru', capacityBytes: cap });
  // reference: an array in recency order, O(n) per request (spec order, no Map tricks)
  let order: { k: number; s: number }[] = [];
  let used = 0;
  let hitBytes = 0;
  let hits = 0;
  for (let i = 0; i < t.length; i++) {
    const k = t.obj[i]!;
    const s = t.size[i]!;
    const at = order.findIndex((e) => e.k === k);
    if (at >= 0 && order[at]!.s === s) {
      hits++;
      hitBytes += s;
      order.push(order.splice(at, 1)[0]!);
      continue;
    }
    if (at >= 0) {
      used -= order[at]!.s;
      order.splice(at, 1);
    }
    if (s > cap) continue;
    while (used + s > cap) used -= order.shift()!.s;
    order.push({ k, s });
    used += s;
  }
  order = [];
  assert.equal(r.hits, hits);
  assert.equal(r.bytesHit, hitBytes);
  // golden figures of this trace at 5 % (regression guard; byte miss ratios to 4 digits)
  assert.equal(r.requests, 66_987);
  assert.equal(r.byteMissRatio.toFixed(4), '0.7191');
  const bel = simulate(t, { policy: 'belady', capacityBytes: cap });
  assert.equal(bel.byteMissRatio.toFixed(4), '0.6476');
  const def = simulate(t, { policy: 's3fifo', capacityBytes: cap });
  assert.ok(def.byteMissRatio / bel.byteMissRatio <= 1.15, `default ${def.byteMissRatio} vs belady ${bel.byteMissRatio}`);
});

test('simulate: deterministic, regions split requests, tiered fetch moves origin bytes to siblings', () => {
  const t = syntheticTrace({ requests: 20_000, objects: 3_000, alpha: 0.9, seed: 7 });
  const cap = Math.round(uniqueBytes(t) * 0.05);
  for (const policy of ['s3fifo', 'belady']) {
    const a = simulate(t, { policy, capacityBytes: cap, regions: 4 });
    const b = simulate(t, { policy, capacityBytes: cap, regions: 4 });
    assert.deepEqual(a, b);
    assert.equal(a.regions, 4);
    assert.equal(a.originBytes + a.bytesHit, a.bytesRequested);
  }
  const flat = simulate(t, { policy: 'lru', capacityBytes: cap, regions: 4 });
  const tiered = simulate(t, { policy: 'lru', capacityBytes: cap, regions: 4, tiered: true });
  assert.equal(tiered.bytesHit, flat.bytesHit); // sibling fetch does not change what each edge caches
  assert.ok(tiered.siblingBytes > 0);
  assert.equal(tiered.originBytes + tiered.siblingBytes, flat.originBytes);
  // the same synthetic trace for the same seed
  assert.deepEqual(syntheticTrace({ requests: 500, objects: 50, seed: 3 }), syntheticTrace({ requests: 500, objects: 50, seed: 3 }));
});

test('simulate: placement pre-positions a globally popular object in a region that has not asked for it yet', () => {
  const b = new TraceBuilder(2100, true);
  let u = 0;
  for (let i = 0; i < 1000; i++) {
    if (i % 2 === 0) b.push('hot', 100, i, 'eu');
    else b.push(`once${u++}`, 10, i, 'us');
  }
  b.push('hot', 100, 1000, 'us'); // the first request for 'hot' in us comes after the first plan
  for (let i = 0; i < 50; i++) b.push(`tail${i}`, 10, 1001 + i, 'us');
  const t = b.build();
  const lazy = simulate(t, { policy: 's3fifo', capacityBytes: 1000 });
  const placed = simulate(t, { policy: 's3fifo', capacityBytes: 1000, placement: { epoch: 1000 } });
  assert.equal(lazy.prefetchBytes, 0);
  assert.equal(placed.prefetchBytes, 100);
  assert.equal(placed.hits, lazy.hits + 1);
  assert.equal(placed.originBytes, lazy.originBytes); // the prefetch moved the fetch ahead of demand, not added bytes
});
