/**
 * The origin dashboard (served at `/`): models and versions with their size at every stage, edges
 * with cache use, hit ratio and origin egress charts, staged versions with per-edge readiness, and
 * the regions × models heatmap. Loads one snapshot through the typed client, then follows the
 * server's event stream (SSE) for live updates. Types come from src/cdn/dashboard/api.ts, so a
 * route or field change fails the build. No outside hosts: everything is served by the origin.
 */
import { h, render, type ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import {
  DASHBOARD_EVENTS,
  DASHBOARD_ROUTES,
  dashboardClient,
  type CostView,
  type DashboardSnapshot,
  type EdgeSummary,
  type EdgesView,
  type ModelSummary,
  type PlacementView,
  type StagingView,
  type VersionSummary,
} from '../../src/cdn/dashboard/api.ts';
import { Chart } from './chart.ts';
import { fmtAgo, fmtBytes, fmtInt, fmtPct, fmtTime } from './format.ts';

const EDGE_COLORS = ['#0b5cad', '#b3261e', '#1b7a3a', '#7a4bb0', '#8a5a00', '#00727a'];
const STAGE_COLORS = { original: '#5b6b7a', int8: '#8a5a00', packed: '#0b5cad', patch: '#1b7a3a' } as const;

type Live = 'connecting' | 'live' | 'reconnecting';

function Section(p: { id: string; title: string; children?: ComponentChildren; note?: string }) {
  return h(
    'section',
    { id: p.id, 'aria-labelledby': `${p.id}-h` },
    h('h2', { id: `${p.id}-h` }, p.title),
    p.note ? h('p', { class: 'note' }, p.note) : null,
    p.children,
  );
}

/** A scrollable, keyboard-focusable wrapper so wide tables work at phone width. */
function Scroll(p: { label: string; children?: ComponentChildren }) {
  return h('div', { class: 'scroll', tabIndex: 0, role: 'region', 'aria-label': p.label }, p.children);
}

function Meter(p: { value: number; max: number; label: string; text: string; testid?: string }) {
  const ratio = p.max > 0 ? Math.min(1, p.value / p.max) : 0;
  return h(
    'div',
    { class: 'meter-row' },
    h(
      'div',
      {
        class: 'meter',
        role: 'progressbar',
        'aria-label': p.label,
        'aria-valuemin': 0,
        'aria-valuemax': 100,
        'aria-valuenow': Math.round(ratio * 100),
        'aria-valuetext': p.text,
        'data-testid': p.testid,
      },
      h('div', { class: 'meter-fill', style: { width: `${(ratio * 100).toFixed(1)}%` } }),
    ),
    h('span', { class: 'meter-text' }, p.text),
  );
}

function Totals({ s }: { s: DashboardSnapshot }) {
  const items: [string, string, string][] = [
    ['Models', fmtInt(s.models.totals.models), 'total-models'],
    ['Ready versions', fmtInt(s.models.totals.versions), 'total-versions'],
    ['Published bytes', fmtBytes(s.models.totals.originalBytes), 'total-original'],
    ['Bytes saved per delivery', fmtBytes(s.models.totals.savedBytes), 'total-saved'],
    ['Edges reporting', fmtInt(s.edges.edges.length), 'total-edges'],
    ['Origin egress', fmtBytes(s.edges.originEgress.totalBytes), 'total-egress'],
  ];
  return h(
    'dl',
    { class: 'totals' },
    items.map(([k, v, id]) => h('div', { key: id, class: 'total' }, h('dt', null, k), h('dd', { 'data-testid': id }, v))),
  );
}

function StageBars({ v }: { v: VersionSummary }) {
  const max = Math.max(1, v.sizes.original);
  const stages: [keyof typeof STAGE_COLORS, string, number | null][] = [
    ['original', 'original', v.sizes.original],
    ['int8', 'INT8', v.sizes.int8],
    ['packed', 'packed', v.sizes.packed],
    ['patch', v.sizes.patch ? `patch from ${v.sizes.patch.fromVersion}` : 'patch', v.sizes.patch?.bytes ?? null],
  ];
  return h(
    'div',
    { class: 'stages', 'aria-hidden': 'true' },
    stages.map(([k, label, n]) =>
      n == null
        ? null
        : h('div', { key: k, class: 'stage', title: `${label}: ${fmtBytes(n)}` }, h('div', { class: 'stage-bar', style: { width: `${Math.max(0.5, (n / max) * 100)}%`, background: STAGE_COLORS[k] } })),
    ),
  );
}

function ModelsTable({ models }: { models: ModelSummary[] }) {
  if (models.length === 0) return h('p', { class: 'empty' }, 'No models published yet.');
  return h(
    Scroll,
    { label: 'Models and versions table' },
    h(
      'table',
      { class: 'models stack', 'data-testid': 'models-table' },
      h('caption', null, 'Size of each version at every delivery stage. Patch = bytes to update from the previous version.'),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          ['Model', 'Version', 'Status', 'Channels', 'Original', 'INT8', 'Packed', 'Patch from previous', 'Saved', 'Stages'].map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        null,
        models.flatMap((m) =>
          m.versions.map((v, i) =>
            h(
              'tr',
              { key: `${m.name}@${v.version}`, 'data-model': m.name, 'data-version': v.version },
              i === 0 ? h('th', { scope: 'rowgroup', rowSpan: m.versions.length, class: 'model-name' }, m.name) : null,
              h('td', { 'data-label': 'Version' }, v.version),
              h('td', { 'data-label': 'Status' }, h('span', { class: `status status-${v.status}` }, v.status)),
              h('td', { 'data-label': 'Channels' }, v.channels.join(', ') || '—'),
              h('td', { class: 'num', 'data-col': 'original', 'data-label': 'Original' }, fmtBytes(v.sizes.original)),
              h('td', { class: 'num', 'data-col': 'int8', 'data-label': 'INT8' }, v.sizes.int8 == null ? h('span', { title: 'no INT8 artifact' }, '—') : fmtBytes(v.sizes.int8)),
              h('td', { class: 'num', 'data-col': 'packed', 'data-label': 'Packed' }, fmtBytes(v.sizes.packed)),
              h(
                'td',
                { class: 'num', 'data-col': 'patch', 'data-label': 'Patch from previous' },
                v.sizes.patch ? `${fmtBytes(v.sizes.patch.bytes)} (from ${v.sizes.patch.fromVersion})` : h('span', { title: 'first version: nothing to patch from' }, '—'),
              ),
              h('td', { class: 'num', 'data-col': 'saved', 'data-label': 'Saved' }, `${fmtBytes(v.savedBytes)} (${fmtPct(v.savedRatio)})`),
              h('td', { class: 'stages-cell', 'data-label': 'Stages' }, h(StageBars, { v })),
            ),
          ),
        ),
      ),
    ),
  );
}

function EdgesTable({ edges }: { edges: EdgeSummary[] }) {
  return h(
    Scroll,
    { label: 'Edges table' },
    h(
      'table',
      { class: 'edges stack', 'data-testid': 'edges-table' },
      h('caption', null, 'Edges by region, from their demand reports.'),
      h('thead', null, h('tr', null, ['Region', 'Cache use / budget', 'Requests', 'Hits', 'Hit ratio', 'Bytes served', 'Last report'].map((c) => h('th', { scope: 'col' }, c)))),
      h(
        'tbody',
        null,
        edges.map((e) =>
          h(
            'tr',
            { key: e.region, 'data-region': e.region },
            h('th', { scope: 'row' }, e.region),
            h(
              'td',
              { class: 'cache-cell', 'data-label': 'Cache use / budget' },
              e.cache
                ? h(Meter, {
                    value: e.cache.usedBytes,
                    max: e.cache.capacityBytes,
                    label: `Cache use of edge ${e.region}`,
                    text: `${fmtBytes(e.cache.usedBytes)} of ${fmtBytes(e.cache.capacityBytes)}`,
                    testid: `cache-${e.region}`,
                  })
                : h('span', { class: 'muted' }, 'not reported'),
            ),
            h('td', { class: 'num', 'data-label': 'Requests' }, fmtInt(e.requests)),
            h('td', { class: 'num', 'data-label': 'Hits' }, fmtInt(e.hits)),
            h('td', { class: 'num', 'data-col': 'hit-ratio', 'data-label': 'Hit ratio' }, fmtPct(e.hitRatio)),
            h('td', { class: 'num', 'data-label': 'Bytes served' }, fmtBytes(e.bytes)),
            h('td', { 'data-label': 'Last report' }, h('time', { dateTime: e.lastReportAt, title: fmtTime(e.lastReportAt) }, fmtAgo(e.lastReportAt))),
          ),
        ),
      ),
    ),
  );
}

/** Merge the edges' series on one time axis (uPlot wants aligned data). */
function alignHitRatio(edges: EdgeSummary[]): { t: number[]; series: { label: string; values: (number | null)[]; color: string }[] } {
  const ts = [...new Set(edges.flatMap((e) => e.series.t))].sort((a, b) => a - b);
  return {
    t: ts,
    series: edges.map((e, i) => {
      const at = new Map(e.series.t.map((t, j) => [t, e.series.hitRatio[j] ?? null]));
      return { label: e.region, values: ts.map((t) => at.get(t) ?? null), color: EDGE_COLORS[i % EDGE_COLORS.length]! };
    }),
  };
}

function EdgesSection({ v }: { v: EdgesView }) {
  if (v.edges.length === 0 && v.originEgress.t.length === 0) {
    return h('p', { class: 'empty' }, 'No edge has reported yet. Edges send demand reports every 30 s by default.');
  }
  const hr = alignHitRatio(v.edges);
  const overall = v.edges.reduce((a, e) => ({ r: a.r + e.requests, h: a.h + e.hits }), { r: 0, h: 0 });
  return h(
    'div',
    null,
    v.edges.length ? h(EdgesTable, { edges: v.edges }) : h('p', { class: 'empty' }, 'No edge has reported yet.'),
    h(
      'div',
      { class: 'charts' },
      h(Chart, {
        id: 'hit-ratio-chart',
        title: 'Hit ratio over time',
        summary: overall.r > 0 ? `${fmtPct(overall.h / overall.r)} of ${fmtInt(overall.r)} requests were cache hits (${v.bucketSeconds} s buckets)` : 'no requests yet',
        t: hr.t,
        series: hr.series,
        formatValue: (x) => fmtPct(x, 0),
        yRange: [0, 1],
      }),
      h(Chart, {
        id: 'egress-chart',
        title: 'Origin egress over time',
        summary: `${fmtBytes(v.originEgress.totalBytes)} of model bytes sent by the origin since it started (${v.originEgress.bucketSeconds} s buckets)`,
        t: v.originEgress.t,
        series: [{ label: 'origin egress', values: v.originEgress.bytes, color: '#b3261e' }],
        formatValue: (x) => fmtBytes(x),
      }),
    ),
  );
}

function StagingSection({ v }: { v: StagingView }) {
  if (v.staged.length === 0) {
    return h(
      'div',
      { class: 'empty', 'data-testid': 'staging-empty' },
      h('p', null, h('strong', null, 'No staged versions.')),
      h('p', { class: 'muted' }, v.available ? 'Stage one with `modelcdn stage NAME@VERSION`; each edge prefetches it in its off-peak window.' : 'This origin does not stage versions; readiness bars appear here once staging is available.'),
    );
  }
  return h(
    'ul',
    { class: 'staged', 'data-testid': 'staging-list' },
    v.staged.map((s) =>
      h(
        'li',
        { key: `${s.name}@${s.version}`, 'data-stage': `${s.name}@${s.version}`, 'data-status': s.status },
        h(
          'h3',
          null,
          `${s.name}@${s.version} `,
          h('span', { class: `status status-${s.status === 'staged' ? 'pending' : s.status === 'deployed' ? 'ready' : 'failed'}` }, s.status),
          h('span', { class: 'muted' }, ` · ${fmtBytes(s.totalBytes)} · ready on ${s.readyEdges} of ${s.knownEdges} edges · staged ${fmtAgo(s.stagedAt)}`),
        ),
        s.edges.length === 0
          ? h('p', { class: 'muted' }, 'No edge has reported progress yet.')
          : h(
              'ul',
              { class: 'readiness' },
              s.edges.map((e) =>
                h(
                  'li',
                  { key: e.edge, 'data-edge': e.edge },
                  h('span', { class: 'region' }, e.edge === e.region ? e.region : `${e.edge} (${e.region})`, e.connected ? null : h('span', { class: 'muted' }, ' · offline')),
                  h(Meter, {
                    value: e.readyBytes,
                    max: e.totalBytes,
                    label: `Readiness of ${s.name}@${s.version} on edge ${e.edge}`,
                    text: e.ready ? `ready (${fmtBytes(e.totalBytes)})` : `${fmtBytes(e.readyBytes)} of ${fmtBytes(e.totalBytes)} · ${fmtBytes(e.totalBytes - e.readyBytes)} left`,
                    testid: `readiness-${e.edge}`,
                  }),
                ),
              ),
            ),
      ),
    ),
  );
}

function Heatmap({ v }: { v: PlacementView }) {
  if (v.regions.length === 0 || v.models.length === 0) {
    return h('p', { class: 'empty', 'data-testid': 'placement-empty' }, 'No demand reported yet: the heatmap fills in as edges report requests.');
  }
  const cell = new Map(v.cells.map((c) => [`${c.region}\0${c.model}`, c]));
  const max = Math.max(1, ...v.cells.map((c) => c.requests));
  return h(
    Scroll,
    { label: 'Placement heatmap' },
    h(
      'table',
      { class: 'heatmap', 'data-testid': 'heatmap' },
      h('caption', null, v.planned ? 'Requests per region and model; ● marks models the placement plan pins in that region.' : 'Requests per region and model (no placement plan yet: demand only).'),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Region'), v.models.map((m) => h('th', { scope: 'col', key: m }, m)))),
      h(
        'tbody',
        null,
        v.regions.map((r) =>
          h(
            'tr',
            { key: r },
            h('th', { scope: 'row' }, r),
            v.models.map((m) => {
              const c = cell.get(`${r}\0${m}`);
              const q = c ? c.requests / max : 0;
              // light → dark blue; text flips to white on dark cells (contrast ≥ 4.5:1 both ways)
              const light = Math.round(97 - q * 72);
              return h(
                'td',
                {
                  key: m,
                  class: 'heat',
                  style: { background: `hsl(214 70% ${light}%)`, color: light < 55 ? '#fff' : '#111' },
                  'data-region': r,
                  'data-model': m,
                  title: c ? `${r} × ${m}: ${fmtInt(c.requests)} requests, ${fmtBytes(c.bytes)}${c.pinnedBytes ? `, ${fmtBytes(c.pinnedBytes)} pinned` : ''}` : `${r} × ${m}: no requests`,
                },
                c ? `${fmtInt(c.requests)}${c.pinnedBytes ? ' ●' : ''}` : '0',
              );
            }),
          ),
        ),
      ),
    ),
  );
}

function fmtUsd(x: number): string {
  if (x >= 1) return x.toLocaleString('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: x >= 100 ? 0 : 2 });
  return x.toLocaleString('en-US', { style: 'currency', currency: 'USD', maximumSignificantDigits: 2 });
}

function CostSection({ v }: { v: CostView }) {
  if (v.servedBytes === 0) return h('p', { class: 'empty', 'data-testid': 'cost-empty' }, 'No deliveries reported in the window yet: costs fill in as edges report demand.');
  const base = v.scenarios[0]!.usd;
  return h(
    Scroll,
    { label: 'Cost of the window\'s traffic' },
    h(
      'table',
      { 'data-testid': 'cost' },
      h(
        'caption',
        null,
        `Origin egress for the same deliveries at $${v.prices.originEgressPerGB}/GB (edge storage $${v.prices.edgeStoragePerGBMonth}/GB-month). ` +
          `Edges hold ${fmtBytes(v.edgeStorageBytes)} now: ${fmtUsd(v.edgeStorageUsdPerMonth)} per month.`,
      ),
      h('thead', null, h('tr', null, ['Delivery', 'Origin egress', 'Cost', 'vs raw'].map((c) => h('th', { scope: 'col', key: c }, c)))),
      h(
        'tbody',
        null,
        v.scenarios.map((s) =>
          h(
            'tr',
            { key: s.id, 'data-scenario': s.id },
            h('th', { scope: 'row' }, s.label),
            h('td', { class: 'num', 'data-label': 'Origin egress' }, fmtBytes(s.originEgressBytes)),
            h('td', { class: 'num', 'data-label': 'Cost' }, fmtUsd(s.usd)),
            h('td', { class: 'num', 'data-label': 'vs raw' }, base > 0 ? fmtPct(s.usd / base) : '—'),
          ),
        ),
      ),
    ),
  );
}

function App() {
  const [snap, setSnap] = useState<DashboardSnapshot | null>(null);
  const [live, setLive] = useState<Live>('connecting');
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const api = dashboardClient('', (u, i) => fetch(u, i));
    api.snapshot().then(setSnap, (e: Error) => setError(e.message));
    const es = new EventSource(DASHBOARD_ROUTES.events);
    es.addEventListener(DASHBOARD_EVENTS.snapshot, (ev) => {
      setSnap(JSON.parse((ev as MessageEvent<string>).data) as DashboardSnapshot);
      setLive('live');
      setError(null);
    });
    es.onerror = () => setLive('reconnecting');
    return () => es.close();
  }, []);

  return h(
    'div',
    { class: 'page' },
    h('a', { class: 'skip', href: '#main' }, 'Skip to content'),
    h(
      'header',
      null,
      h('h1', null, 'modelcdn origin'),
      h(
        'p',
        { class: `live live-${live}`, role: 'status', 'aria-live': 'polite', 'data-testid': 'live' },
        live === 'live' ? 'Live' : live === 'connecting' ? 'Connecting…' : 'Reconnecting…',
        snap ? h('span', { class: 'muted' }, ` · updated ${fmtTime(snap.generatedAt)}`) : null,
      ),
      h(
        'nav',
        { 'aria-label': 'Sections' },
        h('ul', null, [
          ['#models', 'Models'],
          ['#edges', 'Edges'],
          ['#staging', 'Staged versions'],
          ['#placement', 'Placement'],
          ['#cost', 'Cost'],
        ].map(([href, label]) => h('li', { key: href }, h('a', { href }, label)))),
      ),
    ),
    h(
      'main',
      { id: 'main', tabIndex: -1 },
      error ? h('p', { class: 'error', role: 'alert' }, `Could not load the dashboard: ${error}`) : null,
      !snap
        ? h('p', { 'aria-busy': 'true' }, 'Loading…')
        : [
            h(Totals, { s: snap, key: 'totals' }),
            h(Section, { id: 'models', title: 'Models and versions', key: 'm' }, h(ModelsTable, { models: snap.models.models })),
            h(Section, { id: 'edges', title: 'Edges', key: 'e' }, h(EdgesSection, { v: snap.edges })),
            h(Section, { id: 'staging', title: 'Staged versions', key: 's' }, h(StagingSection, { v: snap.staging })),
            h(Section, { id: 'placement', title: 'Placement: regions × models', key: 'p' }, h(Heatmap, { v: snap.placement })),
            h(Section, { id: 'cost', title: 'Cost: bytes into money', key: 'c' }, h(CostSection, { v: snap.cost })),
          ],
    ),
  );
}

render(h(App, null), document.getElementById('app')!);
