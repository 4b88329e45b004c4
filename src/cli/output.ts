/**
 * The one output channel of the CLI: human text or JSON on stdout, diagnostics and progress on
 * stderr. Progress bars draw only when stderr is a TTY (quiet in pipes and CI).
 */
import { ProgressBar, type Progress } from './progress.ts';

export interface Output {
  readonly json: boolean;
  /** a line of human output (suppressed in --json mode) */
  line(text: string): void;
  /** the command's result: JSON in --json mode, otherwise `human(value)` lines (if given) */
  result<T>(value: T, human?: (v: T) => string | string[]): void;
  /** a warning or note on stderr */
  warn(text: string): void;
  /** a progress bar for long work (a no-op object off a TTY) */
  progress(label: string, total: number, unit?: 'bytes' | 'items'): Progress;
}

export interface OutputStreams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

export function createOutput(json: boolean, streams: OutputStreams = { stdout: process.stdout, stderr: process.stderr }): Output {
  return {
    json,
    line(text) {
      if (!json) streams.stdout.write(text + '\n');
    },
    result(value, human) {
      if (json) {
        streams.stdout.write(JSON.stringify(value, null, 2) + '\n');
      } else if (human) {
        const h = human(value);
        streams.stdout.write((Array.isArray(h) ? h.join('\n') : h) + '\n');
      }
    },
    warn(text) {
      streams.stderr.write(text + '\n');
    },
    progress(label, total, unit = 'bytes') {
      return new ProgressBar(label, total, unit, streams.stderr.isTTY ? streams.stderr : null);
    },
  };
}

/** Human-readable byte size: 10.8 MB (decimal units, as file managers and the README use). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n / 1000;
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

/** Parse "20GB", "512MiB", "1.5G", "4096" into bytes. Returns NaN if malformed. */
export function parseBytes(s: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgtp]?)(i?)(b?)\s*$/i.exec(s);
  if (!m) return NaN;
  const num = Number(m[1]);
  const p = m[2] ? 'kmgtp'.indexOf(m[2].toLowerCase()) + 1 : 0;
  const base = m[3] ? 1024 : 1000;
  return Math.round(num * base ** p);
}

/** Render rows as an aligned text table. */
export function table(header: string[], rows: (string | number)[][]): string {
  const all = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [fmt(all[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(fmt)].join('\n');
}
