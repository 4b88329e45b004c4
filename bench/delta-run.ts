/**
 * Child process for bench/delta.ts: makes or applies one patch with modelcdn's delta library and
 * prints one JSON line with its own wall and CPU time, so the parent can measure this process's peak
 * RSS under /usr/bin/time exactly as it does for bsdiff, xdelta3 and zstd.
 *
 *   node --import tsx bench/delta-run.ts make OLD NEW PATCH METHOD
 *   node --import tsx bench/delta-run.ts apply OLD PATCH OUT
 */
import { applyPatch, makePatch, type MakeMethod } from '../src/delta/index.ts';

const [cmd, a, b, c, method] = process.argv.slice(2);
const t0 = performance.now();
const c0 = process.cpuUsage();
const done = (extra: Record<string, unknown>) => {
  const cu = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ ms: performance.now() - t0, cpuMs: (cu.user + cu.system) / 1000, ...extra }) + '\n');
};
if (cmd === 'make') {
  const r = await makePatch(a!, b!, c!, { method: (method ?? 'auto') as MakeMethod, fullPackedSize: Number.MAX_SAFE_INTEGER });
  done({ size: r.size, method: r.method, candidates: r.candidates });
} else if (cmd === 'apply') {
  const r = await applyPatch(a!, b!, c!);
  done({ size: r.size, sha256: r.sha256, method: r.method });
} else {
  process.stderr.write('usage: delta-run.ts make OLD NEW PATCH METHOD | apply OLD PATCH OUT\n');
  process.exitCode = 2;
}
