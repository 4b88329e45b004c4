import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRoute } from './route.ts';
import { McdnError } from '../errors.ts';

const v = (version: string) => ({ version });

test('already up to date → none', () => {
  assert.deepEqual(planRoute({ have: [v('1.0'), v('2.0')], want: v('2.0'), patches: [], fullPackedSize: 100 }), { kind: 'none' });
  assert.deepEqual(planRoute({ have: [{ version: 'a', sha256: 'x' }], want: { version: 'b', sha256: 'x' }, patches: [], fullPackedSize: 100 }), { kind: 'none' });
});

test('no patches or nothing held → full', () => {
  assert.deepEqual(planRoute({ have: [], want: v('2'), patches: [{ from: '1', to: '2', size: 5 }], fullPackedSize: 100 }), { kind: 'full', bytes: 100 });
  assert.deepEqual(planRoute({ have: [v('1')], want: v('2'), patches: [], fullPackedSize: 100 }), { kind: 'full', bytes: 100 });
});

test('direct patch beats full; patch as large as full loses', () => {
  const r = planRoute({ have: [v('1')], want: v('2'), patches: [{ from: '1', to: '2', size: 40, method: 'tensor' }], fullPackedSize: 100 });
  assert.equal(r.kind, 'patch');
  assert.equal(r.kind === 'patch' && r.bytes, 40);
  assert.deepEqual(planRoute({ have: [v('1')], want: v('2'), patches: [{ from: '1', to: '2', size: 100 }], fullPackedSize: 100 }), { kind: 'full', bytes: 100 });
});

test('chain via Dijkstra when cheaper than the direct patch, from the best held version', () => {
  const patches = [
    { from: '1', to: '4', size: 90 },
    { from: '1', to: '2', size: 10 },
    { from: '2', to: '3', size: 10 },
    { from: '3', to: '4', size: 10 },
    { from: '3', to: '1', size: 1 },
  ];
  const r = planRoute({ have: [v('1')], want: v('4'), patches, fullPackedSize: 200 });
  assert.equal(r.kind, 'chain');
  if (r.kind !== 'chain') return;
  assert.deepEqual(r.steps.map((s) => `${s.from}>${s.to}`), ['1>2', '2>3', '3>4']);
  assert.equal(r.bytes, 30);
  // holding 3 as well makes the single step best
  const r2 = planRoute({ have: [v('1'), v('3')], want: v('4'), patches, fullPackedSize: 200 });
  assert.equal(r2.kind, 'patch');
  assert.equal(r2.kind === 'patch' && r2.bytes, 10);
  // a chain longer in bytes than the full download loses
  assert.deepEqual(planRoute({ have: [v('1')], want: v('4'), patches, fullPackedSize: 25 }), { kind: 'full', bytes: 25 });
});

test('CPU cost breaks ties between routes of equal bytes', () => {
  const patches = [
    { from: '1', to: '2', size: 50, method: 'bsdiff' },
    { from: '1', to: '2', size: 50, method: 'tensor' },
  ];
  const r = planRoute({ have: [v('1')], want: v('2'), patches, fullPackedSize: 100 });
  assert.ok(r.kind === 'patch' && r.steps[0].method === 'tensor');
  const r2 = planRoute({ have: [v('1')], want: v('2'), patches: [{ ...patches[1], applyCostPerByte: 10 }, patches[0]], fullPackedSize: 100 });
  assert.ok(r2.kind === 'patch' && r2.steps[0].method === 'bsdiff');
});

test('bad inputs throw McdnError', () => {
  assert.throws(() => planRoute({ have: [v('1')], want: v('2'), patches: [{ from: '1', to: '2', size: -1 }], fullPackedSize: 10 }), McdnError);
  assert.throws(() => planRoute({ have: [v('1')], want: v('2'), patches: [], fullPackedSize: NaN }), McdnError);
  assert.throws(() => planRoute({ have: [v('1')], want: v('2'), patches: [], fullPackedSize: Infinity }), McdnError);
});
