/**
 * The edge status page (served by each edge at `/`): its region, cache use against budget, hit and
 * miss counters, demand report delivery, and the hit ratio over time from the edge's own samples.
 * Polls the edge's status route every 5 s (an edge has no event stream). Types from
 * src/cdn/dashboard/api.ts.
 */
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { dashboardClient, type EdgeStatus } from '../../src/cdn/dashboard/api.ts';
import { Chart } from './chart.ts';
import { fmtBytes, fmtInt, fmtPct } from './format.ts';

const POLL_MS = 5000;

/** hit ratio since start and per sampling interval, from the cumulative counters */
function hitRatioSeries(s: EdgeStatus['samples']): { t: number[]; total: (number | null)[]; interval: (number | null)[] } {
  const t: number[] = [];
  const total: (number | null)[] = [];
  const interval: (number | null)[] = [];
  for (let i = 0; i < s.length; i++) {
    const cur = s[i]!;
    if (i > 0 && cur.t === s[i - 1]!.t) {
      // same second as the previous sample: keep the newer counters only
      t.pop();
      total.pop();
      interval.pop();
    }
    const prev = i > 0 ? s[i - 1]! : { hits: 0, misses: 0 };
    const dh = cur.hits - prev.hits;
    const dm = cur.misses - prev.misses;
    t.push(cur.t);
    total.push(cur.hits + cur.misses > 0 ? cur.hits / (cur.hits + cur.misses) : null);
    interval.push(dh + dm > 0 ? dh / (dh + dm) : null);
  }
  return { t, total, interval };
}

function App() {
  const [st, setSt] = useState<EdgeStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const api = dashboardClient('', (u, i) => fetch(u, i));
    const load = () =>
      api.edgeStatus().then(
        (s) => {
          setSt(s);
          setError(null);
        },
        (e: Error) => setError(e.message),
      );
    void load();
    const id = setInterval(load, POLL_MS);
    return () => clearInterval(id);
  }, []);
  const c = st?.cache;
  const hr = st ? hitRatioSeries(st.samples) : { t: [], total: [], interval: [] };
  return h(
    'div',
    { class: 'page' },
    h('a', { class: 'skip', href: '#main' }, 'Skip to content'),
    h('header', null, h('h1', null, st ? `modelcdn edge · ${st.region}` : 'modelcdn edge'), h('p', { class: 'muted', role: 'status', 'aria-live': 'polite' }, st ? `up ${fmtInt(st.uptimeSeconds)} s · upstream ${st.upstream.join(', ')}` : 'Loading…')),
    h(
      'main',
      { id: 'main', tabIndex: -1 },
      error ? h('p', { class: 'error', role: 'alert' }, `Could not load the status: ${error}`) : null,
      c
        ? [
            h(
              'section',
              { key: 'cache', 'aria-labelledby': 'cache-h' },
              h('h2', { id: 'cache-h' }, 'Cache'),
              h(
                'div',
                { class: 'meter-row' },
                h(
                  'div',
                  {
                    class: 'meter',
                    role: 'progressbar',
                    'aria-label': 'Cache use against budget',
                    'aria-valuemin': 0,
                    'aria-valuemax': 100,
                    'aria-valuenow': c.capacityBytes ? Math.round((100 * c.usedBytes) / c.capacityBytes) : 0,
                    'aria-valuetext': `${fmtBytes(c.usedBytes)} of ${fmtBytes(c.capacityBytes)}`,
                  },
                  h('div', { class: 'meter-fill', style: { width: `${c.capacityBytes ? Math.min(100, (100 * c.usedBytes) / c.capacityBytes) : 0}%` } }),
                ),
                h('span', { class: 'meter-text' }, `${fmtBytes(c.usedBytes)} of ${fmtBytes(c.capacityBytes)}`),
              ),
              h(
                'dl',
                { class: 'totals' },
                (
                  [
                    ['Hit ratio', fmtPct(c.hitRatio), 'edge-hit-ratio'],
                    ['Hits', fmtInt(c.hits), 'edge-hits'],
                    ['Misses', fmtInt(c.misses), 'edge-misses'],
                    ['Coalesced waits', fmtInt(c.coalesced), 'edge-coalesced'],
                    ['Upstream fetches', fmtInt(c.upstreamFetches), 'edge-fetches'],
                    ['Blobs cached', fmtInt(c.entries), 'edge-entries'],
                    ['Pinned', `${fmtBytes(c.pinnedBytes)} (${fmtInt(st!.pins)} blobs)`, 'edge-pinned'],
                    ['Demand reports', `${fmtInt(st!.demandReports.sent)} sent, ${fmtInt(st!.demandReports.failures)} failed`, 'edge-reports'],
                  ] as const
                ).map(([k, v, id]) => h('div', { key: id, class: 'total' }, h('dt', null, k), h('dd', { 'data-testid': id }, v))),
              ),
            ),
            h(
              'section',
              { key: 'chart', 'aria-labelledby': 'chart-h' },
              h('h2', { id: 'chart-h' }, 'Hit ratio over time'),
              h(Chart, {
                id: 'edge-hit-ratio-chart',
                title: 'Hit ratio',
                summary: c.hitRatio == null ? 'no blob requests yet' : `${fmtPct(c.hitRatio)} of ${fmtInt(c.hits + c.misses)} blob lookups were hits since start`,
                t: hr.t,
                series: [
                  { label: 'since start', values: hr.total, color: '#0b5cad' },
                  { label: 'per interval', values: hr.interval, color: '#b3261e' },
                ],
                formatValue: (x) => fmtPct(x, 0),
                yRange: [0, 1],
              }),
            ),
          ]
        : null,
    ),
  );
}

render(h(App, null), document.getElementById('app')!);
