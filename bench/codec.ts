/**
 * `npm run bench:codec` — packs every model file in ../shared/fixtures/models (every .onnx, every
 * tfjs weight shard, and the tfjs/manifest .json files) with .mcz and, side by side in the same run,
 * with the system `zstd -3`, `zstd -19`, `gzip -9` and `brotli -q 11`: size as % of the original,
 * compress and decompress MB/s, peak memory (RSS). Then a generated FP32 safetensors file (default
 * 1 GB, `--size 256MB` for a quick run; never committed) for throughput. Ours runs in a child process
 * (bench/codec-run.ts) so its peak RSS is its own; external tools run under /usr/bin/time.
 *
 * Options: --size BYTES (default 1GB), --skip-big, --level N (mcz level, default 3), --only SUBSTR,
 * --big-tools all (also run zstd -19, gzip -9, brotli -q 11 on the big file: slow), --json.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { FIXTURES, REPO_ROOT } from '../test/fixtures.ts';
import { parseBytes, table } from '../src/cli/output.ts';
import { generateSyntheticModel } from './codec-synth.ts';

const { values: opt } = parseArgs({
  options: {
    size: { type: 'string', default: '1GB' },
    'skip-big': { type: 'boolean', default: false },
    level: { type: 'string', default: '3' },
    only: { type: 'string' },
    'big-tools': { type: 'string', default: 'zstd-3' },
    json: { type: 'boolean', default: false },
  },
});

interface Measure {
  codec: string;
  /** packed bytes, or null if skipped/unavailable */
  size: number | null;
  compMBs: number | null;
  decompMBs: number | null;
  /** MB per CPU-second (user + system, all threads): what the work costs, independent of other load */
  compCpuMBs: number | null;
  decompCpuMBs: number | null;
  peakMB: number | null;
  note?: string;
}
interface Row {
  file: string;
  bytes: number;
  results: Measure[];
}

/** `slow`: compression timed once (seconds per run: stable enough, and repeats would take minutes) */
const TOOLS: { name: string; bin: string; comp: string[]; decomp: string[]; slow?: boolean }[] = [
  { name: 'zstd -3', bin: 'zstd', comp: ['-3', '-c', '-q'], decomp: ['-d', '-c', '-q'] },
  { name: 'zstd -19', bin: 'zstd', comp: ['-19', '-c', '-q'], decomp: ['-d', '-c', '-q'], slow: true },
  { name: 'gzip -9', bin: 'gzip', comp: ['-9', '-c'], decomp: ['-d', '-c'] },
  { name: 'brotli -q 11', bin: 'brotli', comp: ['-q', '11', '-c'], decomp: ['-d', '-c'], slow: true },
];

const work = mkdtempSync(join(tmpdir(), 'bench-codec-'));
const hasTime = existsSync('/usr/bin/time');
const have = (bin: string) => spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0;
const level = Number(opt.level);

function fixtureFiles(): string[] {
  const out: string[] = [];
  const onnx = join(FIXTURES, 'models', 'onnx');
  for (const f of readdirSync(onnx).sort()) if (f.endsWith('.onnx')) out.push(join(onnx, f));
  const tfjs = join(FIXTURES, 'models', 'tfjs');
  for (const d of readdirSync(tfjs).sort()) for (const f of readdirSync(join(tfjs, d)).sort()) out.push(join(tfjs, d, f));
  return out.filter((f) => !opt.only || f.includes(opt.only));
}

/** Run `bin args < in > out` `reps` times; best wall time and the peak RSS. */
function runTool(bin: string, args: string[], input: string, output: string, reps: number): { ms: number; cpuMs: number | null; rssKB: number | null } {
  let best = Infinity;
  let cpu: number | null = null;
  let rss: number | null = null;
  for (let i = 0; i < reps; i++) {
    spawnSync('sync'); // untimed: earlier runs' dirty pages are flushed, as for our own runs (codec-run.ts)
    const fdIn = openSync(input, 'r');
    const fdOut = openSync(output, 'w');
    const rssFile = join(work, 'rss.txt');
    const t0 = performance.now();
    const r = hasTime
      ? spawnSync('/usr/bin/time', ['-f', '%M %U %S', '-o', rssFile, bin, ...args], { stdio: [fdIn, fdOut, 'pipe'] })
      : spawnSync(bin, args, { stdio: [fdIn, fdOut, 'pipe'] });
    const ms = performance.now() - t0;
    closeSync(fdIn);
    closeSync(fdOut);
    if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed: ${r.stderr}`);
    const [m, u, sy] = hasTime ? readFileSync(rssFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number) : [];
    if (ms < best) {
      best = ms;
      cpu = hasTime ? (u! + sy!) * 1000 : null;
    }
    if (hasTime) rss = Math.max(rss ?? 0, m!);
  }
  return { ms: best, cpuMs: cpu, rssKB: rss };
}

/** Our packer/unpacker in a child process (its own peak RSS); best of `reps` runs inside it (+1 warm-up for small files). */
function runOurs(op: 'pack' | 'unpack' | 'decode', input: string, output: string, reps: number, flags: ('fsync' | 'max')[] = []): { ms: number; cpuMs: number; rssKB: number } {
  const n = reps > 1 ? reps + 1 : reps;
  const args = [join(REPO_ROOT, 'bench', 'codec-run.ts'), op, input, output, String(level), String(n), ...flags];
  const r = spawnSync(process.execPath, ['--import', 'tsx', ...args], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`mcz ${op} failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number; cpuMs: number; maxRssKB: number };
  return { ms: j.ms, cpuMs: j.cpuMs, rssKB: j.maxRssKB };
}

const mbs = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

function measureFile(file: string, bytes: number, tools: typeof TOOLS, withFsync = false, withMax = true): Row {
  // big files: best of 2 too — on this VM the first 1 GB written into cold page-cache memory can cost 2–3x the second
  const reps = bytes < 2e6 ? 5 : bytes < 20e6 ? 3 : 2;
  const results: Measure[] = [];
  const packed = join(work, basename(file) + '.mcz');
  const p = runOurs('pack', file, packed, reps);
  const u = runOurs('unpack', packed, join(work, basename(file) + '.out'), reps);
  const size = statSync(packed).size;
  const same = spawnSync('cmp', ['-s', file, join(work, basename(file) + '.out')]).status === 0;
  if (!same) throw new Error(`mcz round trip of ${file} is not byte-identical`);
  results.push({ codec: `mcz -${level}`, size, compMBs: mbs(bytes, p.ms), decompMBs: mbs(bytes, u.ms), compCpuMBs: mbs(bytes, p.cpuMs), decompCpuMBs: mbs(bytes, u.cpuMs), peakMB: Math.max(p.rssKB, u.rssKB) / 1024 });
  if (withMax) {
    const pm = runOurs('pack', file, packed, 1, ['max']); // slow by design: one run
    const um = runOurs('unpack', packed, join(work, basename(file) + '.out'), reps);
    if (spawnSync('cmp', ['-s', file, join(work, basename(file) + '.out')]).status !== 0) throw new Error(`mcz max round trip of ${file} is not byte-identical`);
    results.push({ codec: `mcz -${level} max`, size: statSync(packed).size, compMBs: mbs(bytes, pm.ms), decompMBs: mbs(bytes, um.ms), compCpuMBs: mbs(bytes, pm.cpuMs), decompCpuMBs: mbs(bytes, um.cpuMs), peakMB: Math.max(pm.rssKB, um.rssKB) / 1024 });
  }
  if (withFsync) {
    // like for like with the tools, which decompress to /dev/null: our verifying decoder into a null sink
    const dn = runOurs('decode', packed, '/dev/null', reps);
    results.push({ codec: `mcz -${level} → /dev/null`, size, compMBs: null, decompMBs: mbs(bytes, dn.ms), compCpuMBs: null, decompCpuMBs: mbs(bytes, dn.cpuMs), peakMB: dn.rssKB / 1024 });
    const pf = runOurs('pack', file, packed, reps, ['fsync']);
    const uf = runOurs('unpack', packed, join(work, basename(file) + '.out'), reps, ['fsync']);
    results.push({ codec: `mcz -${level} +fsync`, size, compMBs: mbs(bytes, pf.ms), decompMBs: mbs(bytes, uf.ms), compCpuMBs: mbs(bytes, pf.cpuMs), decompCpuMBs: mbs(bytes, uf.cpuMs), peakMB: Math.max(pf.rssKB, uf.rssKB) / 1024 });
  }
  for (const t of TOOLS) {
    if (!tools.includes(t) || !have(t.bin)) {
      results.push({ codec: t.name, size: null, compMBs: null, decompMBs: null, compCpuMBs: null, decompCpuMBs: null, peakMB: null, note: !have(t.bin) ? 'not installed' : 'skipped (slow)' });
      continue;
    }
    const out = join(work, basename(file) + '.' + t.bin);
    const c = runTool(t.bin, t.comp, file, out, t.slow ? 1 : reps);
    const d = runTool(t.bin, t.decomp, out, '/dev/null', reps);
    results.push({
      codec: t.name, size: statSync(out).size, compMBs: mbs(bytes, c.ms), decompMBs: mbs(bytes, d.ms),
      compCpuMBs: c.cpuMs ? mbs(bytes, c.cpuMs) : null, decompCpuMBs: d.cpuMs ? mbs(bytes, d.cpuMs) : null, peakMB: c.rssKB === null ? null : Math.max(c.rssKB, d.rssKB ?? 0) / 1024 });
    if (withFsync) {
      // the big file: the tool also decompressing into a file, like our unpack (writing 1 GB costs real CPU here)
      const df = runTool(t.bin, t.decomp, out, join(work, basename(file) + '.tool-out'), reps);
      rmSync(join(work, basename(file) + '.tool-out'), { force: true });
      results.push({ codec: `${t.name} → file`, size: statSync(out).size, compMBs: null, decompMBs: mbs(bytes, df.ms), compCpuMBs: null, decompCpuMBs: df.cpuMs ? mbs(bytes, df.cpuMs) : null, peakMB: df.rssKB === null ? null : df.rssKB / 1024 });
    }
    rmSync(out);
  }
  rmSync(packed);
  rmSync(join(work, basename(file) + '.out'));
  return { file, bytes, results };
}

function fmt(n: number | null, digits = 1): string {
  return n === null ? '—' : n.toFixed(digits);
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const missing = TOOLS.filter((t) => !have(t.bin)).map((t) => t.bin);
  if (missing.length) process.stderr.write(`warning: not installed: ${[...new Set(missing)].join(', ')} (Debian packages zstd, gzip, brotli)\n`);
  for (const f of fixtureFiles()) {
    const bytes = statSync(f).size;
    process.stderr.write(`… ${relative(FIXTURES, f)} (${(bytes / 1e6).toFixed(2)} MB)\n`);
    rows.push(measureFile(f, bytes, TOOLS));
  }
  let big: Row | undefined;
  if (!opt['skip-big']) {
    const size = parseBytes(opt.size!);
    if (!Number.isFinite(size) || size < 1e6) throw new Error(`--size ${opt.size} is not a size ≥ 1MB`);
    const path = join(work, `synthetic-fp32-${opt.size}.safetensors`);
    process.stderr.write(`… generating ${path} (${(size / 1e6).toFixed(0)} MB of FP32 weights)\n`);
    await generateSyntheticModel(path, size);
    const bigTools = opt['big-tools'] === 'all' ? TOOLS : TOOLS.filter((t) => t.name === 'zstd -3');
    process.stderr.write(`… packing it (tools: mcz, ${bigTools.map((t) => t.name).join(', ')})\n`);
    big = measureFile(path, statSync(path).size, bigTools, true, false);
    big.file = `synthetic FP32 safetensors (${opt.size})`;
    rows.push(big);
  }

  if (opt.json) {
    process.stdout.write(JSON.stringify({ level, rows }, null, 2) + '\n');
  } else {
    const lines: (string | number)[][] = [];
    for (const r of rows) {
      r.results.forEach((m, i) => {
        lines.push([
          i === 0 ? `${r.file.startsWith(FIXTURES) ? relative(join(FIXTURES, 'models'), r.file) : r.file}` : '',
          i === 0 ? (r.bytes / 1e6).toFixed(2) : '',
          m.codec,
          m.size === null ? (m.note ?? '—') : ((m.size / r.bytes) * 100).toFixed(2),
          fmt(m.compMBs),
          fmt(m.decompMBs),
          fmt(m.compCpuMBs),
          fmt(m.decompCpuMBs),
          fmt(m.peakMB, 0),
        ]);
      });
    }
    process.stdout.write(table(['file', 'MB', 'codec', 'size %', 'comp MB/s', 'decomp MB/s', 'comp MB/cpu-s', 'decomp MB/cpu-s', 'peak MB'], lines) + '\n\n');
    const summary: (string | number)[][] = [];
    let worst = 0;
    let worstMax = 0;
    for (const r of rows) {
      const ours = r.results[0]!;
      const max = r.results.find((m) => m.codec.endsWith(' max'));
      const tools = r.results.filter((m) => m.size !== null && !m.codec.startsWith('mcz'));
      const best = tools.reduce<Measure | undefined>((a, b) => (!a || b.size! < a.size! ? b : a), undefined);
      const ratio = best ? ours.size! / best.size! : NaN;
      const ratioMax = best && max ? max.size! / best.size! : NaN;
      if (r !== big) {
        worst = Math.max(worst, ratio);
        worstMax = Math.max(worstMax, Number.isFinite(ratioMax) ? ratioMax : ratio);
      }
      summary.push([
        r.file.startsWith(FIXTURES) ? relative(join(FIXTURES, 'models'), r.file) : r.file,
        ((ours.size! / r.bytes) * 100).toFixed(2),
        max ? ((max.size! / r.bytes) * 100).toFixed(2) : '—',
        best ? `${((best.size! / r.bytes) * 100).toFixed(2)} (${best.codec})` : '—',
        Number.isFinite(ratio) ? ratio.toFixed(3) : '—',
        Number.isFinite(ratioMax) ? ratioMax.toFixed(3) : '—',
      ]);
    }
    process.stdout.write(table(['file', 'mcz %', 'mcz max %', 'best tool %', 'mcz / best', 'mcz max / best'], summary) + '\n\n');
    const rec = rows.find((r) => r.file.endsWith('ppocr_v4_rec.onnx'));
    if (rec) process.stdout.write(`target ppocr_v4_rec.onnx ≤ 85 %: ${((rec.results[0]!.size! / rec.bytes) * 100).toFixed(2)} % → ${rec.results[0]!.size! / rec.bytes <= 0.85 ? 'met' : 'NOT met'}\n`);
    process.stdout.write(`target no fixture larger than the best tool: worst mcz/best = ${worst.toFixed(3)} (default effort), ${worstMax.toFixed(3)} (effort max) → ${worstMax <= 1 ? 'met' : 'NOT met'}${worst <= 1 ? ' (also at default effort)' : ''}\n`);
    if (big) {
      const m = big.results[0]!;
      const dn = big.results.find((r) => r.codec.endsWith('→ /dev/null'));
      process.stdout.write(
        `target on ${big.file}: compress ${fmt(m.compMBs)} MB/s (≥ 150: ${m.compMBs! >= 150 ? 'met' : 'NOT met'}), decompress ${fmt(m.decompMBs)} MB/s into a file (≥ 300: ${m.decompMBs! >= 300 ? 'met' : 'NOT met'}), ` +
          `${fmt(dn?.decompMBs ?? null)} MB/s into /dev/null like the tools (≥ 300: ${(dn?.decompMBs ?? 0) >= 300 ? 'met' : 'NOT met'}); ` +
          `CPU cost ${fmt(m.compCpuMBs)} / ${fmt(m.decompCpuMBs)} MB per CPU-second, i.e. at most ${fmt(m.compCpuMBs! * 2)} / ${fmt(m.decompCpuMBs! * 2)} MB/s on 2 idle cores\n`,
      );
    }
    process.stdout.write(
      `notes: mcz level ${level}; times are the best of 2–5 runs (one run for the slow compressors: zstd -19, brotli -q 11, mcz max), ours measured inside a child process (excluding Node start-up; including layout ` +
        `detection, sha256 of every chunk and of the file, temp file + rename, but no fsync — like the tools; the "+fsync" row adds it), ` +
        `tools via /usr/bin/time (compress to a file, decompress to /dev/null; ours decompresses to a file). For the big file both also run the other way: ` +
        `"mcz → /dev/null" (our verifying stream decoder, whole-file sha256 checked, into a null sink) and "zstd -3 → file" (page-cache writes cost real CPU on this VM); peak MB = max RSS ` +
        `(for mcz the whole Node process incl. worker threads). MB/cpu-s = MB per CPU-second (user + system over all threads): the cost of the work, ` +
        `less sensitive to other load than wall MB/s. The machine has 2 cores shared with other jobs: wall throughput is noisy.\n`,
    );
  }
  rmSync(work, { recursive: true, force: true });
}

await main();
