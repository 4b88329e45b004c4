/**
 * Child process for bench/delta.ts: makes or applies one patch with modelcdn's delta library and
 * prints one JSON line with its own wall and CPU time, so the parent can measure this process's peak
 * RSS under /usr/bin/time exactly as it does for bsdiff, xdelta3 and zstd. `apply` runs
 * DELTA_APPLY_RUNS times (default 8) and reports the first (cold process), the second (warm JIT) and
 * the median of the rest (the steady state of a long-lived client or edge) separately.
 *
 *   node --import tsx bench/delta-run.ts make OLD NEW PATCH METHOD
 *   node --import tsx bench/delta-run.ts apply OLD PATCH OUT [fsync]
 * Without `fsync` NEW is not flushed before its rename — like bspatch, xdelta3 and zstd, which the
 * benchmark times beside it; with it, as `modelcdn patch` does by default.
 */
import { rmSync } from 'node:fs';
import { applyPatch, makePatch, type MakeMethod } from '../src/delta/index.ts';

const [cmd, a, b, c, method] = process.argv.slice(2);
const durable = cmd === 'apply' && method === 'fsync';
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
  // run 1: a cold process (JIT, first-touch buffers); run 2: warm; runs 3..N: the steady state of a
  // long-lived client or edge (median reported)
  const runs = Math.max(2, Number(process.env['DELTA_APPLY_RUNS'] ?? 8));
  const times: { ms: number; cpuMs: number }[] = [];
  let r: Awaited<ReturnType<typeof applyPatch>> | undefined;
  for (let i = 0; i < runs; i++) {
    // every run writes a new file, as each external tool's run does (the parent removes OUT before
    // each tool): renaming over an existing file makes ext4 start its writeback at once
    // (auto_da_alloc), ~10 ms for 10.8 MB here, which none of the tools pays. Untimed.
    if (i > 0) rmSync(c!, { force: true });
    const w0 = performance.now();
    const wc = process.cpuUsage();
    r = await applyPatch(a!, b!, c!, { durable });
    const wcu = process.cpuUsage(wc);
    // the first run's figures count from process start-up (module imports done), as before
    const cu = i === 0 ? process.cpuUsage(c0) : wcu;
    times.push({ ms: performance.now() - (i === 0 ? t0 : w0), cpuMs: (cu.user + cu.system) / 1000 });
  }
  const median = (xs: number[]) => xs.sort((x, y) => x - y)[xs.length >> 1];
  const rest = times.slice(2);
  process.stdout.write(
    JSON.stringify({
      ms: times[0].ms,
      cpuMs: times[0].cpuMs,
      warmMs: times[1].ms,
      warmCpuMs: times[1].cpuMs,
      ...(rest.length ? { steadyMs: median(rest.map((x) => x.ms)), steadyCpuMs: median(rest.map((x) => x.cpuMs)) } : {}),
      size: r!.size,
      sha256: r!.sha256,
      method: r!.method,
    }) + '\n',
  );
} else {
  process.stderr.write('usage: delta-run.ts make OLD NEW PATCH METHOD | apply OLD PATCH OUT\n');
  process.exitCode = 2;
}
