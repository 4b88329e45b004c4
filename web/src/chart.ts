/**
 * A time-series chart (uPlot on a canvas) inside an accessible figure: the figure carries a text
 * summary as its label, and a collapsible table holds the same numbers for keyboard and screen
 * reader users. Resizes with its container. Knows nothing about where the data comes from.
 */
import { h } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { fmtTime } from './format.ts';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
}

export interface ChartProps {
  id: string;
  title: string;
  /** one-sentence summary read out as the chart's label */
  summary: string;
  /** Unix seconds */
  t: number[];
  series: ChartSeries[];
  formatValue: (v: number | null) => string;
  yRange?: [number, number];
}

/** uPlot data; a lone point gets empty neighbours 30 s either side so the time axis stays readable */
function aligned(p: ChartProps): uPlot.AlignedData {
  if (p.t.length === 1) {
    const t = p.t[0]!;
    return [[t - 30, t, t + 30], ...p.series.map((s) => [null, s.values[0] ?? null, null])] as uPlot.AlignedData;
  }
  return [p.t, ...p.series.map((s) => s.values)] as uPlot.AlignedData;
}

export function Chart(p: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const key = p.series.map((s) => s.label).join('|');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const width = Math.max(240, el.clientWidth);
    const opts: uPlot.Options = {
      width,
      height: 200,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: {
        // at least a minute wide, so one point does not stretch the axis over years
        // a minute at least, so a short history does not zoom into milliseconds
        x: { time: true, range: (_u, min, max) => (max - min < 60 ? [max - 60, max] : [min, max]) },
        // counts start at zero so a small change does not look like a cliff
        y: p.yRange ? { range: p.yRange } : { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { stroke: '#333' },
        { stroke: '#333', size: 70, values: (_u, vals) => vals.map((v) => p.formatValue(v)) },
      ],
      series: [{}, ...p.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, points: { show: true, size: 6 }, value: (_u: uPlot, v: number | null) => p.formatValue(v) }))],
    };
    const u = new uPlot(opts, aligned(p), el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(240, el.clientWidth), height: 200 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [key]);

  useEffect(() => {
    plot.current?.setData(aligned(p));
  }, [p.t, p.series]);

  return h(
    'figure',
    { class: 'chart', id: p.id, 'aria-labelledby': `${p.id}-cap`, 'data-points': String(p.t.length) },
    h('figcaption', { id: `${p.id}-cap` }, h('strong', null, p.title), ' — ', h('span', { class: 'summary' }, p.summary)),
    h('div', { class: 'plot', ref: box, role: 'img', 'aria-label': `${p.title}: ${p.summary}` }),
    h(
      'details',
      null,
      h('summary', null, `Data table (${p.t.length} points)`),
      h(
        'div',
        { class: 'scroll', tabIndex: 0, role: 'region', 'aria-label': `${p.title} data` },
        h(
          'table',
          { class: 'data' },
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Time'), ...p.series.map((s) => h('th', { scope: 'col' }, s.label)))),
          h(
            'tbody',
            null,
            p.t.map((t, i) => h('tr', { key: t }, h('td', null, fmtTime(t)), ...p.series.map((s) => h('td', { class: 'num' }, p.formatValue(s.values[i] ?? null))))),
          ),
        ),
      ),
    ),
  );
}
