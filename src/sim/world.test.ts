import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixture } from '../../test/fixtures.ts';
import { DEFAULT_PRICES } from './prices.ts';
import { localShape, parseJedi, simulateWorld } from './world.ts';
import { worldPlot, worldTable } from './world-report.ts';

const jedi = parseJedi(readFileSync(fixture('traces', 'jedi_hourly_requests_us_eu.csv'), 'utf8'));

test('JEDI curves: US and EU download peaks are ~9 h apart in UTC and both late-morning local', () => {
  const peak = (a: number[]) => a.indexOf(Math.max(...a));
  const gap = Math.abs(peak(jedi.us) - peak(jedi.eu));
  assert.ok(Math.min(gap, 24 - gap) >= 7 && Math.min(gap, 24 - gap) <= 11, `gap ${gap}`);
  const s = localShape(jedi);
  assert.ok(Math.abs(s.reduce((a, b) => a + b, 0) / 24 - 1) < 1e-9);
  const lp = s.indexOf(Math.max(...s));
  assert.ok(lp >= 8 && lp <= 14, `local peak at ${lp}`);
});

test('parseJedi: malformed curves are input errors (and never hang)', () => {
  const isBad = (e: unknown) => (e as { code?: string }).code === 'BAD_DIURNAL';
  assert.throws(() => parseJedi('hour,d-1,d-2\n0,0,0\n1,0,0\n'), isBad);
  assert.throws(() => parseJedi('hour,d-1,d-2\n0,x,5\n'), isBad);
  assert.throws(() => parseJedi('hour,w-1\n0,5\n'), isBad);
  assert.throws(() => parseJedi('hour,d-1,d-2\nnoon,1,1\n'), isBad);
  const one = parseJedi('hour,d-1,d-2\n3,10,20\n');
  assert.ok(one.us.every((v) => v === 10) && one.eu.every((v) => v === 20)); // a single hour fills the clock
});

test('world: bad options are input errors', () => {
  for (const bad of [{ continents: 0 }, { modelSample: 0 }, { hours: 1.5 }, { pinFraction: 2 }, { offPeakHours: 30 }, { regions: -1 }]) {
    assert.throws(() => simulateWorld(bad, jedi, DEFAULT_PRICES), (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'BAD_WORLD_OPTION', JSON.stringify(bad));
  }
});

test('world: deterministic; compression, placement and prefetch move the numbers the expected way', () => {
  const opts = { regions: 6, continents: 2, models: 400, hours: 30, realDownloadsPerDay: 150_000, modelSample: 0.25, deployDelayHours: 12, rolloutHours: 8, releasesPerDayRest: 0.2 };
  const a = simulateWorld(opts, jedi, DEFAULT_PRICES);
  const b = simulateWorld(opts, jedi, DEFAULT_PRICES);
  assert.deepEqual(a, b);
  const [raw, packed, deltas, prefetch, predictive, placement, all] = a.scenarios;
  // same request stream everywhere
  for (const s of a.scenarios) assert.equal(s.requests, raw!.requests);
  // packed artifacts cut egress roughly by the compression ratio
  assert.ok(packed!.originBytes < raw!.originBytes * 0.95);
  assert.ok(deltas!.requestedBytes <= packed!.requestedBytes);
  // tiered fetch turns origin egress into (cheaper) inter-region transfer
  assert.ok(placement!.interRegionBytes > 0);
  assert.ok(placement!.originBytes < deltas!.originBytes);
  // staged prefetch makes deploys ready at the edges; without it nothing is ready at deploy time
  assert.ok(a.scenarios[0]!.deploys > 0);
  assert.equal(deltas!.deployReadiness, 0);
  assert.ok(prefetch!.deployReadiness > 0.3, String(prefetch!.deployReadiness));
  assert.ok(all!.deployReadiness > 0.3);
  // predictive prefetch (no staging): second-wave edges get ready from the first wave's deploy
  assert.ok(predictive!.deployReadiness > 0.1, String(predictive!.deployReadiness));
  assert.ok(predictive!.prefetchBytes > 0);
  assert.ok(prefetch!.prefetchBytes > 0);
  for (const s of a.scenarios) {
    assert.ok(Math.abs(s.cost.total - (s.cost.originEgress + s.cost.interRegion + s.cost.edgeStorage)) < 1e-6);
    assert.equal(s.hourly.length, 30);
  }
  assert.match(worldTable(a, true), /\| all: prefetch \+ placement \|/);
  const png = worldPlot(a);
  assert.deepEqual([...png.subarray(1, 4)], [80, 78, 71]);
});
