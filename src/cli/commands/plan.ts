/**
 * `modelcdn plan --demand FILE`: run the demand-based placement planner over a file of edge demand
 * reports (the bodies edges POST to /v1/demand) and print, per region, which model versions to pin
 * and why. `modelcdn plan --server URL` prints the plan the origin computed from the reports its
 * edges sent (the one edges prefetch). Thin adapter over src/cdn/placement (pure) and
 * src/cdn/prefetch/client.ts.
 */
import { readFileSync } from 'node:fs';
import { defineCommand, flagNumber, flagString } from '../command.ts';
import { formatBytes, parseBytes, table } from '../output.ts';
import { fromSystemError, inputError } from '../../errors.ts';

export default defineCommand({
  summary: 'plan which model versions each region should pin, from demand reports',
  description:
    'Reads demand reports ({region, from, to, items: [{model, version, requests, bytes, hits?}]}) as a JSON array, ' +
    'or an object {regions: [{name, capacityBytes}], reports: [...]}. Aggregates them (sliding window + decay), ' +
    'then maximizes expected origin bytes saved (expected requests × size) under each region\'s pin capacity, ' +
    'spreading globally popular models and leaving the long tail to lazy loading.',
  flags: {
    demand: { type: 'string', description: 'JSON file of demand reports', placeholder: 'FILE' },
    server: { type: 'string', description: "ask this origin for its live plan instead (default without --demand: $MODELCDN_SERVER)", placeholder: 'URL' },
    region: { type: 'string', description: 'with --server: only this region', placeholder: 'REGION' },
    capacity: { type: 'string', description: 'pin capacity per region when the file names none (e.g. 500GB)', default: '100GB', placeholder: 'SIZE' },
    spread: { type: 'number', description: 'weight of global popularity in a region\'s expected demand (0..1)', default: 0.3 },
    'min-requests': { type: 'number', description: 'expected requests below which a model stays lazily loaded', default: 1 },
    'half-life': { type: 'number', description: 'demand half-life in hours', default: 24 },
    now: { type: 'string', description: 'plan as of this ISO time (default: the latest report end)', placeholder: 'TIME' },
  },
  examples: ['modelcdn plan --demand reports.json --capacity 500GB', 'modelcdn plan --demand state.json --json', 'modelcdn plan --server http://127.0.0.1:8080'],
  json: true,
  async run(ctx) {
    const { DemandAggregator, planPlacement, HOUR_MS } = await import('../../cdn/placement/index.ts');
    const path = flagString(ctx.flags, 'demand');
    const serverFlag = flagString(ctx.flags, 'server') ?? (path ? undefined : ctx.env['MODELCDN_SERVER']);
    if (serverFlag !== undefined) {
      if (path) throw inputError('BAD_ARGUMENTS', 'plan: give either --demand FILE or --server URL, not both');
      const { fetchPlan, serverUrl } = await import('../../cdn/prefetch/client.ts');
      const region = flagString(ctx.flags, 'region');
      const p = await fetchPlan({ server: serverUrl(serverFlag, 'plan'), signal: ctx.signal }, region);
      ctx.out.result(p, (v) => [
        ...humanPlan(v),
        ...Object.entries(v.learnedWindows ?? {}).map(([r, w]) => `${r}: off-peak window ${w ?? 'not learned yet (no demand history)'}`),
        ...Object.entries(v.releases ?? {})
          .filter(([, c]) => c.nextExpectedAt)
          .map(([m, c]) => `${m}: ${c.releases} releases, about every ${interval(c.medianIntervalHours ?? 0)} (regularity ${c.regularity}); next expected ${c.nextExpectedAt}`),
      ]);
      return;
    }
    if (!path) throw inputError('MISSING_DEMAND', 'plan: --demand FILE or --server URL is required', {}, 'see `modelcdn plan --help`');
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      if (e instanceof SyntaxError) throw inputError('BAD_DEMAND_FILE', `${path}: not valid JSON: ${e.message}`);
      throw fromSystemError(e, path);
    }
    const obj = (Array.isArray(doc) ? { reports: doc } : doc) as { regions?: { name: string; capacityBytes: number }[]; reports?: unknown };
    if (typeof obj !== 'object' || obj === null || !Array.isArray(obj.reports)) {
      throw inputError('BAD_DEMAND_FILE', `${path}: expected an array of demand reports or {regions, reports}`);
    }
    const capacity = parseBytes(flagString(ctx.flags, 'capacity') ?? '100GB');
    if (!(capacity > 0)) throw inputError('BAD_CAPACITY', `--capacity '${flagString(ctx.flags, 'capacity')}' is not a byte size`);
    const halfLife = flagNumber(ctx.flags, 'half-life') ?? 24;
    if (!(halfLife > 0)) throw inputError('BAD_ARGUMENTS', '--half-life must be positive');
    const agg = new DemandAggregator({ halfLifeMs: halfLife * HOUR_MS });
    let latest = 0;
    (obj.reports as Parameters<typeof agg.record>[0][]).forEach((r, i) => {
      try {
        agg.record(r);
      } catch (e) {
        throw inputError('BAD_DEMAND_FILE', `${path}: report ${i}: ${(e as Error).message}`);
      }
      latest = Math.max(latest, r.to);
    });
    const nowFlag = flagString(ctx.flags, 'now');
    const now = nowFlag ? Date.parse(nowFlag) : latest;
    if (!Number.isFinite(now)) throw inputError('BAD_ARGUMENTS', `--now '${nowFlag}' is not a date`);
    const snap = agg.snapshot(now);
    const regions = obj.regions ?? agg.regions().map((name) => ({ name, capacityBytes: capacity }));
    const plan = planPlacement(
      regions,
      snap.map((e) => ({ region: e.region, model: e.model, version: e.version, size: e.size, requests: e.decayedRequests })),
      { spread: flagNumber(ctx.flags, 'spread') ?? 0.3, minExpectedRequests: flagNumber(ctx.flags, 'min-requests') ?? 1 },
    );
    ctx.out.result({ now: new Date(now).toISOString(), ...plan }, humanPlan);
  },
});

function interval(hours: number): string {
  if (hours < 1) return `${Math.max(1, Math.round(hours * 60))} min`;
  if (hours < 48) return `${Math.round(hours * 10) / 10} h`;
  return `${Math.round((hours / 24) * 10) / 10} days`;
}

function humanPlan(p: import('../../cdn/placement/index.ts').Plan): string[] {
  return [
    table(
      ['region', 'model@version', 'size', 'expected req', 'saved', 'reason'],
      p.placements.map((x) => [x.region, `${x.model}@${x.version}`, formatBytes(x.size), x.expectedRequests.toFixed(1), formatBytes(x.savedBytes), x.reason]),
    ),
    '',
    ...p.regions.map((r) => `${r.name}: ${r.pins} pinned, ${formatBytes(r.usedBytes)} of ${formatBytes(r.capacityBytes)}, saves ${formatBytes(r.savedBytes)}`),
    `${p.lazy.length} model versions with demand left to lazy loading; total expected origin bytes saved ${formatBytes(p.totalSavedBytes)}`,
  ];
}
