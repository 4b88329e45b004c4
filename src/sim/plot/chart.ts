/**
 * Line charts as PNG: several panels stacked vertically, each with its own y axis, title and
 * legend, sharing an x axis (hours). Used for the internet-scale report in docs/. Pure: returns
 * PNG bytes.
 */
import { encodePng, Raster, TEXT_HEIGHT, textWidth, type Rgb } from './png.ts';

export interface Series {
  label: string;
  values: number[];
  color: Rgb;
  dashed?: boolean;
}

export interface Panel {
  title: string;
  yLabel: string;
  series: Series[];
  /** formatter for y tick labels */
  format?: (v: number) => string;
  yMin?: number;
  yMax?: number;
}

export const PALETTE: Rgb[] = [
  [31, 119, 180],
  [214, 39, 40],
  [44, 160, 44],
  [255, 127, 14],
  [148, 103, 189],
  [140, 86, 75],
];

function niceStep(range: number, ticks: number): number {
  const raw = range / ticks;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

export function lineChart(opts: { title: string; xLabel: string; panels: Panel[]; width?: number; panelHeight?: number; xTickEvery?: number }): Uint8Array {
  const W = opts.width ?? 960;
  const PH = opts.panelHeight ?? 260;
  const top = 34;
  const left = 78;
  const right = 200;
  const gap = 40;
  const H = top + opts.panels.length * (PH + gap) + 20;
  const r = new Raster(W, H);
  r.text(left, 10, opts.title);
  const plotW = W - left - right;
  opts.panels.forEach((panel, pi) => {
    const y0 = top + pi * (PH + gap) + 18;
    const h = PH - 18;
    const all = panel.series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
    let lo = panel.yMin ?? Math.min(0, ...all);
    let hi = panel.yMax ?? Math.max(...all, lo + 1e-9);
    if (hi <= lo) hi = lo + 1;
    const step = niceStep(hi - lo, 5);
    lo = Math.floor(lo / step) * step;
    hi = Math.ceil(hi / step) * step;
    const n = Math.max(...panel.series.map((s) => s.values.length));
    const X = (i: number) => left + (n <= 1 ? 0 : (i / (n - 1)) * plotW);
    const Y = (v: number) => y0 + h - ((v - lo) / (hi - lo)) * h;
    r.text(left, y0 - 16, panel.title, [40, 40, 40]);
    // grid and y ticks
    const fmt = panel.format ?? ((v: number) => String(Math.round(v * 100) / 100));
    for (let v = lo; v <= hi + step / 2; v += step) {
      const y = Y(v);
      r.line(left, y, left + plotW, y, [225, 225, 225]);
      const label = fmt(v);
      r.text(left - 6 - textWidth(label), y - TEXT_HEIGHT / 2, label, [80, 80, 80]);
    }
    r.textUp(6, y0 + h / 2 + textWidth(panel.yLabel) / 2, panel.yLabel, [80, 80, 80]);
    // x ticks
    const every = opts.xTickEvery ?? Math.max(1, Math.round(n / 12));
    for (let i = 0; i < n; i += every) {
      const x = X(i);
      r.line(x, y0 + h, x, y0 + h + 4, [80, 80, 80]);
      const label = String(i);
      r.text(x - textWidth(label) / 2, y0 + h + 6, label, [80, 80, 80]);
    }
    r.line(left, y0 + h, left + plotW, y0 + h, [0, 0, 0]);
    r.line(left, y0, left, y0 + h, [0, 0, 0]);
    // series
    panel.series.forEach((s, si) => {
      for (let i = 1; i < s.values.length; i++) {
        const a = s.values[i - 1]!;
        const b = s.values[i]!;
        if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
        if (s.dashed && i % 2 === 0) continue;
        r.line(X(i - 1), Y(a), X(i), Y(b), s.color, 2);
      }
      const ly = y0 + 6 + si * 18;
      r.rect(left + plotW + 14, ly + 4, 18, 4, s.color);
      r.text(left + plotW + 38, ly, s.label.slice(0, 22));
    });
    if (pi === opts.panels.length - 1) r.text(left + plotW / 2 - textWidth(opts.xLabel) / 2, y0 + h + 20, opts.xLabel, [40, 40, 40]);
  });
  return encodePng(r);
}
