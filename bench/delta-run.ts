/**
 * Child process for bench/delta.ts: makes or applies one patch with modelcdn's delta library and
 * prints one JSON line with its own wall and CPU time, so the parent can measure this process's peak
 * RSS under /usr/bin/time exactly as it does for bsdiff, xdelta3 and zstd. `apply` runs twice and
 * reports the first (cold process) and the second (warm JIT, as in a long-lived client) separately.
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
  // a second apply in the same process: the steady state of a long-lived client or edge (JIT warm)
  const w0 = performance.now();
  const wc = process.cpuUsage();
  await applyPatch(a!, b!, c!);
  const wcu = process.cpuUsage(wc);
  const warm = { warmMs: performance.now() - w0, warmCpuMs: (wcu.user + wcu.system) / 1000 };
  const cu = process.cpuUsage(c0);
  process.stdout.write(JSON.stringify({ ms: w0 - t0, cpuMs: (cu.user + cu.system) / 1000 - warm.warmCpuMs, ...warm, size: r.size, sha256: r.sha256, method: r.method }) + '\n');
} else {
  process.stderr.write('usage: delta-run.ts make OLD NEW PATCH METHOD | apply OLD PATCH OUT\n');
  process.exitCode = 2;
}
