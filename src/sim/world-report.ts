/**
 * Renders a WorldResult: the scenario table (bytes, hit ratio, readiness, money) as text/markdown
 * and the PNG plot (hourly origin egress and edge byte hit ratio per scenario). Pure: returns
 * strings and bytes.
 */
import { formatBytes, table } from '../cli/output.ts';
import { lineChart, PALETTE } from './plot/chart.ts';
import type { WorldResult } from './world.ts';

const usd = (x: number) => `$${x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(2)}`;

export function worldTable(res: WorldResult, markdown = false): string {
  const o = res.options;
  const base = res.scenarios[0];
  const head = [
    `World: ${o.regions} regions × ${o.models} models (Zipf ${o.zipfAlpha}), ${o.hours} h, ${(o.realDownloadsPerDay / 1e6).toFixed(1)} M downloads/day, ` +
      `catalogue ${formatBytes(res.catalogueBytes)} packed, edge cache ${formatBytes(res.edgeCacheBytes)} per region (${(o.edgeCacheFraction * 100).toFixed(0)} %), ` +
      `spatial sample 1/${Math.round(res.scale)} of the models (${res.sampledRequests} simulated requests per scenario).`,
    `Prices: origin egress $${res.prices.originEgressPerGB}/GB, inter-region $${res.prices.interRegionPerGB}/GB, edge storage $${res.prices.edgeStoragePerGBMonth}/GB-month.`,
  ];
  const header = ['scenario', 'origin egress', 'inter-region', 'prefetched', 'edge byte hit', 'peak origin/h', 'deploy ready', 'egress $', 'inter-region $', 'storage $', 'total $', 'vs raw'];
  const rows = res.scenarios.map((s) => [
    s.scenario.name,
    formatBytes(s.originBytes),
    formatBytes(s.interRegionBytes),
    formatBytes(s.prefetchBytes),
    `${(s.edgeByteHitRatio * 100).toFixed(1)} %`,
    formatBytes(s.peakOriginBytesPerHour),
    `${(s.deployReadiness * 100).toFixed(0)} %`,
    usd(s.cost.originEgress),
    usd(s.cost.interRegion),
    usd(s.cost.edgeStorage),
    usd(s.cost.total),
    base && base.cost.total > 0 ? `${((s.cost.total / base.cost.total) * 100).toFixed(0)} %` : '-',
  ]);
  if (!markdown) return [...head, '', table(header, rows)].join('\n');
  const md = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
  return [...head, '', ...md].join('\n');
}

export function worldPlot(res: WorldResult): Uint8Array {
  const pick = res.scenarios.filter((s) => ['raw, lazy', 'packed+deltas', '+prefetch', '+placement', 'all'].includes(s.scenario.short));
  const colors = [PALETTE[1]!, PALETTE[0]!, PALETTE[3]!, PALETTE[2]!, PALETTE[4]!, PALETTE[5]!];
  return lineChart({
    title: `modelcdn world simulation: ${res.options.regions} regions x ${res.options.models} models, ${res.options.hours} h (UTC hours on the x axis)`,
    xLabel: 'hour (UTC) since start',
    panels: [
      {
        title: 'origin egress per hour (TB)',
        yLabel: 'TB / hour',
        series: pick.map((s, i) => ({ label: s.scenario.short, values: s.hourly.map((p) => p.originBytes / 1e12), color: colors[i]! })),
        format: (v) => v.toFixed(1),
      },
      {
        title: 'edge byte hit ratio per hour (%)',
        yLabel: '%',
        series: pick.map((s, i) => ({ label: s.scenario.short, values: s.hourly.map((p) => (p.requestedBytes > 0 ? (100 * p.hitBytes) / p.requestedBytes : NaN)), color: colors[i]! })),
        yMin: 0,
        format: (v) => v.toFixed(0),
      },
    ],
  });
}
