/**
 * `npm run bench:sim`: eviction policies × cache sizes (1, 5, 10, 20 % of unique bytes) on the real
 * AdaptSize web trace and on a generated Zipf trace, each next to Belady's offline optimum and LRU
 * (byte miss ratio, object miss ratio, ratio to Belady), then simulator throughput in requests per
 * minute on a generated 1 M-request Zipf trace. Generated inputs are built in memory, not committed.
 *   node --import tsx bench/sim.ts [--quick]
 */
import { readFileSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { table } from '../src/cli/output.ts';
import { DEFAULT_POLICY, POLICY_NAMES } from '../src/cdn/eviction/index.ts';
import { compare, parseCacheSizes } from '../src/sim/run.ts';
import { simulate } from '../src/sim/simulate.ts';
import { syntheticTrace } from '../src/sim/synthetic.ts';
import { parseAdaptSize, uniqueBytes, type Trace } from '../src/sim/trace.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = process.env['MODELCDN_FIXTURES'] ?? resolve(root, '../shared/fixtures');
const quick = process.argv.includes('--quick');

function report(title: string, t: Trace): void {
  const cmp = compare(t, { policies: [...POLICY_NAMES], cacheSizes: parseCacheSizes('1%,5%,10%,20%', uniqueBytes(t)) });
  console.log(`\n## ${title}: ${cmp.requests} requests, ${cmp.objects} objects, compulsory byte miss ratio ${cmp.compulsoryByteMissRatio.toFixed(4)}\n`);
  const sizes = [...new Set(cmp.rows.map((r) => r.cacheLabel))];
  const policies = [...new Set(cmp.rows.map((r) => r.policy))];
  const cell = (p: string, s: string) => cmp.rows.find((r) => r.policy === p && r.cacheLabel === s)!;
  console.log('byte miss ratio (× Belady)');
  console.log(table(['policy', ...sizes], policies.map((p) => [p + (p === DEFAULT_POLICY ? ' *' : ''), ...sizes.map((s) => `${cell(p, s).byteMissRatio.toFixed(4)} (${cell(p, s).byteMissVsBelady.toFixed(3)}x)`)])));
  console.log('\nobject miss ratio (× Belady)');
  console.log(table(['policy', ...sizes], policies.map((p) => [p + (p === DEFAULT_POLICY ? ' *' : ''), ...sizes.map((s) => `${cell(p, s).objectMissRatio.toFixed(4)} (${cell(p, s).objectMissVsBelady.toFixed(3)}x)`)])));
  console.log('\nexcess byte misses beyond compulsory, × Belady\'s excess');
  console.log(table(['policy', ...sizes], policies.map((p) => [p, ...sizes.map((s) => (Number.isFinite(cell(p, s).excessVsBelady) ? `${cell(p, s).excessVsBelady.toFixed(2)}x` : 'n/a'))])));
  console.log('(n/a: Belady has no misses beyond compulsory ones at that size. Belady here minimizes bytes, so a size-aware policy such as gdsf can beat it on objects.)');
}

const adapt = parseAdaptSize(readFileSync(resolve(fixtures, 'traces/adaptsize_request.trace')), 'adaptsize_request.trace');
report('AdaptSize web trace (real)', adapt);
report(
  'Synthetic Zipf(0.8) + log-normal sizes + 20 % one-hit wonders + popularity drift (seed 2)',
  syntheticTrace({ requests: quick ? 100_000 : 300_000, objects: 50_000, alpha: 0.8, epoch: 50_000, seed: 2 }),
);

report(
  'Synthetic model-CDN trace: 500 models, Zipf(0.9), log-normal sizes (median 300 MB, sigma 1.2), 2 % one-off (seed 31)',
  syntheticTrace({ requests: quick ? 30_000 : 100_000, objects: 500, alpha: 0.9, medianSize: 300e6, sizeSigma: 1.2, oneHitFraction: 0.02, seed: 31 }),
);

const n = quick ? 200_000 : 1_000_000;
const big = syntheticTrace({ requests: n, objects: n / 5, alpha: 0.8, seed: 11 });
const cap = Math.round(uniqueBytes(big) * 0.05);
console.log(`\n## Throughput: generated Zipf(0.8) trace, ${n} requests, cache 5 % of unique bytes (target ≥ 5 M requests/min)\n`);
const rows: (string | number)[][] = [];
for (const p of ['belady', ...POLICY_NAMES]) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = simulate(big, { policy: p, capacityBytes: cap });
  const s = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const cpu = (c.user + c.system) / 1e6;
  rows.push([p + (p === DEFAULT_POLICY ? ' *' : ''), s.toFixed(2), ((n / s) * 60 / 1e6).toFixed(1), cpu.toFixed(2), ((n / cpu) * 60 / 1e6).toFixed(1), r.byteMissRatio.toFixed(4)]);
}
console.log(table(['policy', 'wall s', 'M req/min (wall)', 'CPU s', 'M req/min (CPU)', 'byte miss'], rows));
console.log('(wall-clock figures depend on how busy the shared machine is; CPU time is this process only)');
console.log('\n* default policy (DEFAULT_POLICY in src/cdn/eviction/index.ts)');
