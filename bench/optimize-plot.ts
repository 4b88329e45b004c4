/**
 * PNG line charts for bench/optimize.ts, drawn by ImageMagick's `convert -draw` (no SVG delegate,
 * no external hosts): two panels side by side, x = sparsity %, one polyline per series.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';

export interface Series {
  label: string;
  color: string;
  /** [x, y] points */
  points: [number, number][];
}

export interface Panel {
  title: string;
  yLabel: string;
  yMin: number;
  yMax: number;
  series: Series[];
}

const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';
const W = 520;
const H = 420;
const M = { l: 62, r: 16, t: 52, b: 92 };

function panelDraw(p: Panel, ox: number, xs: number[]): string[] {
  const px = (x: number) => ox + M.l + ((x - xs[0]!) / (xs[xs.length - 1]! - xs[0]!)) * (W - M.l - M.r);
  const py = (y: number) => M.t + (1 - (y - p.yMin) / (p.yMax - p.yMin)) * (H - M.t - M.b);
  const a: string[] = [];
  const cmd = (s: string) => a.push('-draw', s);
  a.push('-stroke', '#dddddd', '-strokewidth', '1', '-fill', 'none');
  const ticks = 5;
  for (let i = 0; i <= ticks; i++) {
    const y = p.yMin + ((p.yMax - p.yMin) * i) / ticks;
    cmd(`line ${px(xs[0]!)},${py(y)} ${px(xs[xs.length - 1]!)},${py(y)}`);
  }
  a.push('-stroke', '#444444');
  cmd(`line ${px(xs[0]!)},${py(p.yMin)} ${px(xs[xs.length - 1]!)},${py(p.yMin)}`);
  cmd(`line ${px(xs[0]!)},${py(p.yMin)} ${px(xs[0]!)},${py(p.yMax)}`);
  a.push('-stroke', 'none', '-fill', '#222222', '-pointsize', '12');
  for (let i = 0; i <= ticks; i++) {
    const y = p.yMin + ((p.yMax - p.yMin) * i) / ticks;
    cmd(`text ${ox + 8},${py(y) + 4} '${y.toFixed(0)}'`);
  }
  for (const x of xs) cmd(`text ${px(x) - 8},${py(p.yMin) + 18} '${x}'`);
  cmd(`text ${ox + M.l + 90},${H - M.b + 40} 'sparsity (% of weights zeroed)'`);
  a.push('-pointsize', '14');
  cmd(`text ${ox + M.l},${20} '${p.title.replace(/'/g, '')}'`);
  a.push('-pointsize', '12');
  cmd(`text ${ox + 6},${M.t - 14} '${p.yLabel.replace(/'/g, '')}'`);
  // series
  p.series.forEach((s, i) => {
    const pts = s.points.filter(([, y]) => Number.isFinite(y)).map(([x, y]) => `${px(x).toFixed(1)},${py(Math.max(p.yMin, Math.min(p.yMax, y))).toFixed(1)}`);
    if (pts.length >= 2) {
      a.push('-stroke', s.color, '-strokewidth', '2.5', '-fill', 'none');
      cmd(`polyline ${pts.join(' ')}`);
    }
    a.push('-stroke', 'none', '-fill', s.color);
    for (const q of pts) {
      const [x, y] = q.split(',').map(Number);
      cmd(`circle ${x},${y} ${x! + 3.5},${y}`);
    }
    // legend
    const lx = ox + 12 + (i % 3) * 168;
    const ly = H - 30 + Math.floor(i / 3) * 16;
    a.push('-stroke', s.color, '-strokewidth', '3');
    cmd(`line ${lx},${ly - 4} ${lx + 18},${ly - 4}`);
    a.push('-stroke', 'none', '-fill', '#222222');
    cmd(`text ${lx + 24},${ly} '${s.label.replace(/'/g, '')}'`);
  });
  return a;
}

/** Render two panels into a PNG file. */
export async function renderPng(path: string, left: Panel, right: Panel, xs: number[]): Promise<void> {
  const args = ['-size', `${2 * W}x${H}`, 'xc:white', '-font', FONT, ...panelDraw(left, 0, xs), ...panelDraw(right, W, xs), 'png:-'];
  const png = await new Promise<Buffer>((resolve, reject) => {
    const c = spawn('convert', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    c.stdout.on('data', (b: Buffer) => out.push(b));
    c.stderr.on('data', (b: Buffer) => err.push(b));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`convert exited ${code}: ${Buffer.concat(err).toString().split('\n')[0]}`))));
  });
  await writeFile(path, png);
}
