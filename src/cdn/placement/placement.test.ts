import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { McdnError } from '../../errors.ts';
import { DAY_MS, DemandAggregator, HOUR_MS } from './demand.ts';
import { planPlacement, type PlanDemand } from './planner.ts';
import { inWindow, learnOffPeak, parseWindow, validateTimeZone } from './offpeak.ts';
import { parseRate, TokenBucket } from './token-bucket.ts';

const isCode = (code: string) => (e: unknown) => e instanceof McdnError && e.code === code;
const T0 = Date.UTC(2026, 0, 1);

test('demand: sliding window drops old buckets, decay halves per half-life, per region and version', () => {
  const agg = new DemandAggregator({ halfLifeMs: DAY_MS, windowMs: 2 * DAY_MS });
  agg.record({ region: 'eu', from: T0, to: T0 + HOUR_MS, items: [{ model: 'm', version: '1', requests: 8, bytes: 800, hits: 6 }] });
  agg.record({ region: 'us', from: T0, to: T0 + HOUR_MS, items: [{ model: 'm', version: '1', requests: 2, bytes: 200 }] });
  let s = agg.snapshot(T0 + HOUR_MS);
  assert.deepEqual(s.map((e) => [e.region, e.requests, e.hits, e.size]), [['eu', 8, 6, 100], ['us', 2, 0, 100]]);
  s = agg.snapshot(T0 + HOUR_MS + DAY_MS);
  assert.ok(Math.abs(s[0]!.decayedRequests - 4) < 1e-9);
  assert.equal(s[0]!.requests, 8); // still inside the 2-day window
  agg.record({ region: 'eu', from: T0 + 2 * DAY_MS, to: T0 + 2 * DAY_MS + HOUR_MS, items: [{ model: 'm', version: '2', requests: 5, bytes: 500 }] });
  s = agg.snapshot(T0 + 3 * DAY_MS + 2 * HOUR_MS);
  const eu1 = s.find((e) => e.region === 'eu' && e.version === '1')!;
  assert.equal(eu1.requests, 0); // left the window
  assert.ok(Math.abs(eu1.decayedRequests - 8 * 2 ** -(3 + 1 / 24)) < 1e-9);
  const eu2 = s.find((e) => e.version === '2')!;
  assert.equal(eu2.requests, 5);
});

test('demand: hour-of-day profile and learned off-peak window', () => {
  const agg = new DemandAggregator();
  for (let h = 0; h < 24; h++) {
    const n = h >= 2 && h < 6 ? 1 : 100; // quiet 02:00–06:00 UTC
    agg.record({ region: 'eu', from: T0 + h * HOUR_MS, to: T0 + (h + 1) * HOUR_MS, items: [{ model: 'm', version: '1', requests: n, bytes: n }] });
  }
  const w = learnOffPeak(agg.hourOfDayProfile('eu'), 4);
  assert.equal(w.startMin, 2 * 60);
  assert.equal(w.endMin, 6 * 60);
  assert.ok(w.share < 0.01);
});

test('demand: bad reports are rejected whole', () => {
  const agg = new DemandAggregator();
  assert.throws(() => agg.record({ region: '', from: 0, to: 1, items: [] }), isCode('BAD_DEMAND_REPORT'));
  assert.throws(() => agg.record({ region: 'eu', from: 5, to: 1, items: [] }), isCode('BAD_DEMAND_REPORT'));
  assert.throws(
    () => agg.record({ region: 'eu', from: 0, to: 1, items: [{ model: 'm', version: '1', requests: 1, bytes: 1 }, { model: 'm', version: '1', requests: -1, bytes: 1 }] }),
    isCode('BAD_DEMAND_REPORT'),
  );
  assert.equal(agg.snapshot(1).length, 0); // nothing half-applied
  assert.throws(() => agg.record({ region: 'eu', from: 0, to: 1, items: [{ model: 'm', version: '1', requests: 1, bytes: 1, hits: 2 }] }), isCode('BAD_DEMAND_REPORT'));
});

test('planner: maximizes demand × size per region, spreads globally popular models, long tail stays lazy', () => {
  const GB = 1e9;
  const regions = ['a', 'b', 'c', 'd'].map((name) => ({ name, capacityBytes: 3 * GB }));
  const demand: PlanDemand[] = [];
  for (const r of ['a', 'b', 'c']) demand.push({ region: r, model: 'llama', version: '3', size: 2 * GB, requests: 100 });
  demand.push({ region: 'd', model: 'llama', version: '3', size: 2 * GB, requests: 0.5 });
  demand.push({ region: 'a', model: 'local', version: '1', size: 1 * GB, requests: 30 });
  demand.push({ region: 'a', model: 'big', version: '1', size: 2.5 * GB, requests: 20 });
  demand.push({ region: 'd', model: 'tail', version: '1', size: 0.1 * GB, requests: 0.2 });
  demand.push({ region: 'd', model: 'dlocal', version: '1', size: 0.5 * GB, requests: 200 }); // d is busy, but barely asks for llama
  const plan = planPlacement(regions, demand, { spread: 0.3, minExpectedRequests: 1 });
  const at = (r: string) => plan.placements.filter((p) => p.region === r).map((p) => `${p.model}@${p.version}`);
  assert.deepEqual(at('a'), ['llama@3', 'local@1']); // big@1 no longer fits after llama
  assert.deepEqual(at('d'), ['dlocal@1', 'llama@3']); // thin local history, pinned because it is globally popular
  assert.match(plan.placements.find((p) => p.region === 'd' && p.model === 'llama')!.reason, /globally popular/);
  assert.match(plan.placements.find((p) => p.region === 'a' && p.model === 'local')!.reason, /local demand/);
  assert.equal(plan.spread['llama@3'], 4);
  assert.ok(plan.lazy.some((l) => l.model === 'tail' && /long tail/.test(l.reason)));
  assert.ok(plan.lazy.some((l) => l.model === 'big' && /capacity full/.test(l.reason)));
  for (const r of plan.regions) assert.ok(r.usedBytes <= r.capacityBytes);
});

test('planner: never exceeds capacity, and with spread 0 matches brute-force best for unit sizes', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 50 })), { maxLength: 30 }),
      fc.integer({ min: 0, max: 8 }),
      (rows, cap) => {
        const sizeOf = (m: number) => 1 + (m % 3);
        const demand = rows.map(([r, m, , q]) => ({ region: `r${r}`, model: `m${m}`, version: '1', size: sizeOf(m), requests: q }));
        const regions = [0, 1, 2].map((r) => ({ name: `r${r}`, capacityBytes: cap }));
        const plan = planPlacement(regions, demand, { spread: 0, minExpectedRequests: 0.5 });
        for (const r of plan.regions) assert.ok(r.usedBytes <= cap);
        for (const p of plan.placements) assert.ok(p.expectedRequests >= 0.5);
        // with unit sizes (all models size 1 → use m % 3 === 0) greedy is optimal: the top-cap requests
        const unit = demand.filter((d) => d.size === 1);
        const p2 = planPlacement(regions, unit, { spread: 0, minExpectedRequests: 0.5 });
        for (const r of regions) {
          const loc = new Map<string, number>();
          for (const d of unit) if (d.region === r.name) loc.set(d.model, (loc.get(d.model) ?? 0) + d.requests);
          const best = [...loc.values()].filter((v) => v >= 0.5).sort((a, b) => b - a).slice(0, cap).reduce((a, b) => a + b, 0);
          const got = p2.placements.filter((p) => p.region === r.name).reduce((a, p) => a + p.expectedRequests, 0);
          assert.equal(got, best);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('off-peak: parse, zones, wrap-around, errors', () => {
  const w = parseWindow('01:00-06:00', 'Europe/Paris');
  // 2026-01-01 00:30 UTC = 01:30 in Paris (UTC+1 in winter)
  assert.equal(inWindow(Date.UTC(2026, 0, 1, 0, 30), w), true);
  assert.equal(inWindow(Date.UTC(2026, 0, 1, 5, 30), w), false); // 06:30 Paris
  const wrap = parseWindow('22:00-02:00');
  assert.equal(inWindow(Date.UTC(2026, 0, 1, 23), wrap), true);
  assert.equal(inWindow(Date.UTC(2026, 0, 1, 1, 59), wrap), true);
  assert.equal(inWindow(Date.UTC(2026, 0, 1, 2), wrap), false);
  assert.equal(parseWindow('00:00-24:00').endMin, 1440);
  assert.equal(inWindow(Date.UTC(2026, 0, 1, 23, 59), parseWindow('00:00-24:00')), true);
  assert.throws(() => parseWindow('25:00-06:00'), isCode('BAD_WINDOW'));
  assert.throws(() => parseWindow('03:00-03:00'), isCode('BAD_WINDOW'));
  assert.throws(() => parseWindow('1-6'), isCode('BAD_WINDOW'));
  assert.throws(() => validateTimeZone('Mars/Olympus'), isCode('BAD_TIMEZONE'));
  assert.throws(() => learnOffPeak([1, 2, 3]), isCode('BAD_PROFILE'));
  // wrap-around learned window: quiet hours 22..01
  const prof = Array.from({ length: 24 }, (_, h) => (h >= 22 || h < 2 ? 1 : 50));
  const l = learnOffPeak(prof, 4);
  assert.equal(l.startMin, 22 * 60);
  assert.equal(l.endMin, 2 * 60);
});

test('token bucket: paces to the rate, allows the burst, parses rates', () => {
  const b = new TokenBucket(1000, 500); // 1000 B/s, 500 B burst
  assert.equal(b.take(500, 0), 0);
  assert.equal(b.take(1000, 0), 1000); // 1000 B of debt → wait 1 s
  assert.equal(b.available(1000), 0);
  assert.equal(b.take(0, 2000), 0);
  assert.equal(b.available(2000), 500); // refilled but capped at the burst
  // sustained: sending 10 kB in 100 B chunks back-to-back takes ~10 s of waits
  const c = new TokenBucket(1000, 100);
  let now = 0;
  for (let i = 0; i < 100; i++) now += c.take(100, now);
  assert.ok(Math.abs(now - 9900) < 1e-6, String(now));
  assert.equal(parseRate('50MB/s'), 50e6);
  assert.equal(parseRate('1MiB/s'), 1048576);
  assert.equal(parseRate('2000'), 2000);
  assert.throws(() => parseRate('fast'), isCode('BAD_RATE'));
  assert.throws(() => new TokenBucket(0), isCode('BAD_RATE'));
});

test('predictPrefetch: a version live elsewhere is fetched ahead, with the patch most clients need', async () => {
  const { predictPrefetch, releaseCadence } = await import('./predict.ts');
  const deps = [
    { model: 'llama', version: '4', regions: ['us'], totalRegions: 3, size: 4e9, patches: { '3': 1e9, '2': 2e9 } },
    { model: 'whisper', version: '2', regions: ['us', 'eu'], totalRegions: 3, size: 1e9 },
    { model: 'tiny', version: '9', regions: [], totalRegions: 3, size: 1e6 },
  ];
  const demand = [
    { model: 'llama', version: '3', requests: 40 },
    { model: 'llama', version: '2', requests: 5 },
    { model: 'whisper', version: '1', requests: 1 },
    { model: 'tiny', version: '8', requests: 100 },
  ];
  const items = predictPrefetch('asia', demand, deps);
  assert.deepEqual(items.map((i) => `${i.model}@${i.version}:${i.kind}${i.fromVersion ? `<${i.fromVersion}` : ''}`), ['llama@4:full', 'llama@4:patch<3']);
  assert.match(items[0]!.reason, /live in 1\/3 regions/);
  assert.equal(items[1]!.size, 1e9);
  assert.deepEqual(predictPrefetch('us', demand, deps), []); // already live there
  const c = releaseCadence([0, 7, 14, 21].map((d) => d * 86_400_000));
  assert.equal(c.medianIntervalMs, 7 * 86_400_000);
  assert.equal(c.nextExpectedAt, 28 * 86_400_000);
  assert.equal(c.regularity, 1);
  assert.equal(releaseCadence([5]).regularity, 0);
  assert.ok(releaseCadence([0, 1, 10, 11, 40]).regularity < 0.5);
});

test('fuzz: arbitrary demand reports either record or throw McdnError; plans stay within capacity', () => {
  const anyValue = fc.oneof(fc.string({ maxLength: 8 }), fc.double(), fc.integer(), fc.constant(null), fc.constant(undefined), fc.constant(-1));
  const item = fc.record({ model: fc.oneof(fc.constantFrom('m1', 'm2', 'm3'), anyValue), version: fc.oneof(fc.constantFrom('1', '2'), anyValue), requests: fc.oneof(fc.nat(50), anyValue), bytes: fc.oneof(fc.nat(5000), anyValue) });
  const report = fc.record({
    region: fc.oneof(fc.constantFrom('eu', 'us', 'ap'), anyValue),
    from: fc.oneof(fc.integer({ min: 0, max: 1e9 }), anyValue),
    to: fc.oneof(fc.integer({ min: 0, max: 2e9 }), anyValue),
    items: fc.oneof(fc.array(item, { maxLength: 5 }), anyValue),
  });
  fc.assert(
    fc.property(fc.array(report, { maxLength: 8 }), fc.integer({ min: 0, max: 20000 }), (reports, cap) => {
      const agg = new DemandAggregator();
      for (const r of reports) {
        try {
          agg.record(r as never);
        } catch (e) {
          if (!(e instanceof McdnError)) throw e;
        }
      }
      const snap = agg.snapshot(2e9);
      const plan = planPlacement(
        agg.regions().map((name) => ({ name, capacityBytes: cap })),
        snap.map((e) => ({ region: e.region, model: e.model, version: e.version, size: e.size, requests: e.decayedRequests })),
      );
      for (const r of plan.regions) assert.ok(r.usedBytes <= cap);
    }),
    { numRuns: 300 },
  );
});
