/**
 * `npm run bench:delta` — delta patches side by side in one run: modelcdn's tensor and binary methods
 * (and its bsdiff for inputs ≤ 4 MiB) against Debian's `bsdiff`, `xdelta3 -9 -S djw` and
 * `zstd --patch-from -19 --long=27`, on the real version pairs in ../shared/fixtures (movenet v3→v4
 * .bin and .json, facemesh fp32→fp16 .bin and .json, silero_vad v4legacy→v5) and on continued-
 * training pairs derived from ppocr_v4_rec.onnx by scripts/make-delta-pairs.ts (written to
 * .tmp/pairs, gitignored), and on the training trajectory of the distill area's model family
 * (scripts/model-family.ts: v1→v2 retrain, v2→v3 last layer, v2→v4 fine-tune; FP32 and INT8).
 * Reports patch size as % of the new file, make and apply time (wall and
 * CPU), apply MB/s, peak RSS, and each pair's ratio to the best baseline; then checks the targets of
 * issue 5. Every patch is applied and the output compared with NEW by sha256. Finally the seed's
 * pipeline (§3): FP32 → INT8 (the optimize area's quantizer) → INT8 patch of a fine-tuned successor,
 * next to the seed's "2 GB FP32 → 500 MB INT8 → 25 MB update".
 *
 * Ours runs in a child process (bench/delta-run.ts) so its peak RSS is its own; external tools run
 * under /usr/bin/time. Each patch is applied in --reps fresh processes (default 3), eight times in
 * each: the first apply (cold process), the second (warm) and the median of the rest (steady, a
 * long-lived client) are reported as medians over the processes, wall and per CPU second (all
 * threads). Those applies do not fsync NEW before its rename — neither do bspatch, xdelta3 and zstd —
 * and a second set does, as `modelcdn patch` does by default ("+fsync" columns). Options: --quick (skip Debian bsdiff on inputs > 1 MB; it takes ~47 s on the
 * 10.8 MB model), --only SUBSTR, --pair OLD:NEW (extra pairs, repeatable), --no-family (skip the
 * model-family pairs and the pipeline; building the family trains small models), --reps N, --json.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { fixture, REPO_ROOT } from '../test/fixtures.ts';
import { table } from '../src/cli/output.ts';
import { readModelLayout } from '../src/formats/index.ts';
import { makeDeltaPairs } from '../scripts/make-delta-pairs.ts';
import { nativeAvailable } from '../src/util/native.ts';
import { makeSafetensorsPair } from '../src/delta/test-util.ts';

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    pair: { type: 'string', multiple: true },
    'no-family': { type: 'boolean', default: false },
    reps: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    'bsdiff-scale': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opt.help) {
  process.stdout.write(`npm run bench:delta [-- OPTIONS]

Delta patches side by side in one run: modelcdn's tensor, binary and bsdiff methods against Debian's
bsdiff, xdelta3 -9 -S djw and zstd --patch-from -19 --long=27 (each installed if missing), on the
real version pairs in ../shared/fixtures, continued-training pairs derived from ppocr_v4_rec.onnx,
and the distill area's model family; then the targets of issue 5 and the FP32 → INT8 → update
pipeline. Writes bench/out/delta.json.

  --quick          skip Debian bsdiff on inputs > 1 MB (it takes ~47 s on the 10.8 MB model)
  --only SUBSTR    only the pairs whose name contains SUBSTR (e.g. ppocr_rec)
  --pair OLD:NEW   an extra pair (repeatable)
  --no-family      skip the model-family pairs and the pipeline (building the family trains models)
  --reps N         fresh processes per apply figure, median reported (default 3)
  --json           print the results as JSON instead of tables
  --bsdiff-scale MB  also make a BSDIFF40 patch of a generated MB-sized safetensors fine-tune pair
                   with modelcdn (time, peak memory as a multiple of the input; 100 MB takes ~4 min)
                   and apply it with Debian's bspatch and with modelcdn (Debian's bsdiff is not run:
                   ~10 min at 100 MB)
  -h, --help       this text

MODELCDN_NATIVE=off runs modelcdn's applies without the native addon (sha256 on the decoding thread).
`);
  process.exit(0);
}

interface Pair {
  name: string;
  old: string;
  new: string;
}

interface Measure {
  tool: string;
  ours: boolean;
  size: number | null;
  makeS: number | null;
  makeCpuS: number | null;
  applyS: number | null;
  applyCpuS: number | null;
  /** ours only: a second apply in the same process (warm JIT) */
  applyWarmS?: number | null;
  applyWarmCpuS?: number | null;
  /** ours only: the median of the third and later applies in the same process (a long-lived client) */
  applySteadyS?: number | null;
  applySteadyCpuS?: number | null;
  /** ours only: the same applies with NEW fsynced before its rename (`modelcdn patch`'s default) */
  applyFsyncS?: number | null;
  applySteadyFsyncS?: number | null;
  peakMB: number | null;
  note?: string;
}

const work = mkdtempSync(join(tmpdir(), 'bench-delta-'));
const hasTime = existsSync('/usr/bin/time');
const have = (bin: string) => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const size = (p: string) => statSync(p).size;
const log = (s: string) => {
  if (!opt.json) process.stderr.write(s + '\n');
};

interface Run {
  ok: boolean;
  wallS: number;
  cpuS: number | null;
  peakMB: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command under /usr/bin/time (wall, CPU, max RSS). */
function timed(bin: string, args: string[]): Run {
  const tf = join(work, 'time.txt');
  const t0 = performance.now();
  const r = hasTime
    ? spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', tf, bin, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 })
    : spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const wallS = (performance.now() - t0) / 1000;
  let cpuS: number | null = null;
  let peakMB: number | null = null;
  if (hasTime && existsSync(tf)) {
    const last = readFileSync(tf, 'utf8').trim().split('\n').pop() ?? '';
    const [, u, s, m] = last.split(' ').map(Number);
    if (Number.isFinite(u)) cpuS = u + s;
    if (Number.isFinite(m)) peakMB = m / 1024;
  }
  return { ok: r.status === 0, wallS, cpuS, peakMB, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

interface Inner {
  ms: number;
  cpuMs: number;
  warmMs?: number;
  warmCpuMs?: number;
  steadyMs?: number;
  steadyCpuMs?: number;
  size?: number;
  method?: string;
}

function ours(cmd: string[]): { run: Run; inner: Inner | null } {
  const run = timed(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/delta-run.ts'), ...cmd]);
  let inner = null;
  try {
    inner = JSON.parse(run.stdout.trim().split('\n').pop() ?? '');
  } catch {
    inner = null;
  }
  return { run, inner };
}

async function pairs(): Promise<Pair[]> {
  const tf = (d: string, f: string) => fixture('models', 'tfjs', d, f);
  const list: Pair[] = [
    { name: 'movenet v3→v4 .bin', old: tf('movenet-lightning-v3', 'movenet-lightning.bin'), new: tf('movenet-lightning-v4', 'movenet-lightning.bin') },
    { name: 'movenet v3→v4 .json', old: tf('movenet-lightning-v3', 'movenet-lightning.json'), new: tf('movenet-lightning-v4', 'movenet-lightning.json') },
    { name: 'facemesh fp32→fp16 .bin', old: tf('facemesh-fp32', 'facemesh.bin'), new: tf('facemesh-fp16', 'facemesh.bin') },
    { name: 'facemesh fp32→fp16 .json', old: tf('facemesh-fp32', 'facemesh.json'), new: tf('facemesh-fp16', 'facemesh.json') },
    { name: 'silero_vad v4legacy→v5', old: fixture('models', 'onnx', 'silero_vad_v4legacy.onnx'), new: fixture('models', 'onnx', 'silero_vad_v5.onnx') },
  ];
  const dir = join(REPO_ROOT, '.tmp', 'pairs');
  const model = fixture('models', 'onnx', 'ppocr_v4_rec.onnx');
  const manifest = join(dir, 'ppocr_v4_rec.pairs.json');
  const derived = existsSync(manifest) ? (JSON.parse(readFileSync(manifest, 'utf8')) as { name: string; old: string; new: string }[]) : await makeDeltaPairs(model, dir);
  for (const d of derived.every((p) => existsSync(p.new)) ? derived : await makeDeltaPairs(model, dir)) {
    list.push({ name: d.name.replace('ppocr_v4_rec_', 'ppocr_rec ').replace('_sigma', ' σ=').replace('sigma', 'σ='), old: d.old, new: d.new });
  }
  const fam = await family();
  if (fam) {
    const f = (v: string, k: 'onnx' | 'onnxInt8' | 'safetensors' | 'safetensorsInt8') => fam.members.find((m) => m.version === v)?.files[k];
    for (const [a, b, what] of [['v1', 'v2', 'retrain'], ['v2', 'v3', 'last layer'], ['v2', 'v4', 'fine-tune']] as const) {
      for (const [k, label] of [['onnx', 'fp32 onnx'], ['onnxInt8', 'int8 onnx']] as const) {
        const o = f(a, k);
        const n = f(b, k);
        if (o && n) list.push({ name: `family ${a}→${b} ${what} ${label}`, old: o, new: n });
      }
    }
  }
  for (const p of opt.pair ?? []) {
    const [o, n] = p.split(':');
    if (o && n) list.push({ name: `${basename(o)}→${basename(n)}`, old: o, new: n });
  }
  return list.filter((p) => !opt.only || p.name.includes(opt.only));
}

interface FamilyManifest {
  members: { version: string; files: { onnx: string; safetensors: string; onnxInt8?: string; safetensorsInt8?: string } }[];
}

/** The distill area's model family: reuse .tmp/family if built, else build it (trains small models). */
async function family(): Promise<FamilyManifest | null> {
  if (opt['no-family']) return null;
  const manifest = join(REPO_ROOT, '.tmp', 'family', 'family.json');
  try {
    if (existsSync(manifest)) {
      const m = JSON.parse(readFileSync(manifest, 'utf8')) as FamilyManifest;
      if (m.members.every((x) => existsSync(x.files.onnx))) return m;
    }
    log('… building the model family (scripts/model-family.ts)');
    const { buildFamily } = await import('../scripts/model-family.ts');
    return (await buildFamily({ log })) as unknown as FamilyManifest;
  } catch (e) {
    log(`model family unavailable: ${(e as Error).message.split('\n')[0]}`);
    return null;
  }
}

interface PipelineRow {
  model: string;
  fp32: number;
  int8: number;
  patch: number | null;
  successor: string;
  note?: string;
}

/** §3: FP32 → INT8 → INT8→INT8 patch of a fine-tuned successor (tensor method, level 19). */
async function pipeline(fam: FamilyManifest | null): Promise<PipelineRow[]> {
  const rows: PipelineRow[] = [];
  const patchSize = async (a: string, b: string) => {
    const out = join(work, 'pipe.patch');
    const mk = ours(['make', a, b, out, 'tensor']);
    rmSync(out, { force: true });
    return mk.inner?.size ?? null;
  };
  if (fam) {
    const m = (v: string) => fam.members.find((x) => x.version === v)!.files;
    for (const [succ, what] of [['v4', 'fine-tuned on shifted data'], ['v3', 'last layer fine-tuned']] as const) {
      const v2 = m('v2');
      const s = m(succ);
      if (!v2.onnxInt8 || !s.onnxInt8) continue;
      rows.push({ model: 'digits mlp (model family v2)', fp32: size(v2.onnx), int8: size(v2.onnxInt8), patch: await patchSize(v2.onnxInt8, s.onnxInt8), successor: `${succ} (${what})` });
    }
  }
  // ppocr_v4_rec: FP32 → INT8 by the optimize area's quantizer; successor = last-10 % σ=1e-3 pair
  try {
    const { quantizeFile } = await import('../src/optimize/quantize/index.ts');
    const dir = join(REPO_ROOT, '.tmp', 'pairs');
    const base = fixture('models', 'onnx', 'ppocr_v4_rec.onnx');
    const succ = join(dir, 'ppocr_v4_rec_last10pct_sigma1e-3.onnx');
    const q = async (inp: string, out: string) => {
      if (!existsSync(out)) await quantizeFile(inp, out, { scheme: 'int8', granularity: 'per-channel', minElements: 1024 });
      return out;
    };
    const a = await q(base, join(dir, 'ppocr_v4_rec.int8.onnx'));
    const b = await q(succ, join(dir, 'ppocr_v4_rec_last10pct_sigma1e-3.int8.onnx'));
    rows.push({ model: 'ppocr_v4_rec', fp32: size(base), int8: size(a), patch: await patchSize(a, b), successor: 'last 10 % of weights σ=1e-3' });
  } catch (e) {
    rows.push({ model: 'ppocr_v4_rec', fp32: size(fixture('models', 'onnx', 'ppocr_v4_rec.onnx')), int8: 0, patch: null, successor: '—', note: `quantizer unavailable: ${(e as Error).message.split('\n')[0]}` });
  }
  return rows;
}

async function benchPair(p: Pair): Promise<{ pair: Pair; newSize: number; results: Measure[] }> {
  const newSize = size(p.new);
  const want = sha(p.new);
  const results: Measure[] = [];
  const out = join(work, 'out');
  const check = (m: Measure) => {
    if (existsSync(out) && sha(out) !== want) {
      m.note = 'WRONG OUTPUT';
      m.size = null;
    }
    rmSync(out, { force: true });
    results.push(m);
  };
  const layout = await readModelLayout(p.new).catch(() => ({ tensors: [] as unknown[] }));
  const methods: string[] = [];
  if (layout.tensors.length > 0) methods.push('tensor');
  methods.push('binary');
  if (Math.max(size(p.old), newSize) <= 4 << 20 && !opt.quick) methods.push('bsdiff');
  for (const m of methods) {
    const patch = join(work, `ours.${m}`);
    const mk = ours(['make', p.old, p.new, patch, m]);
    if (!mk.run.ok || !mk.inner) {
      results.push({ tool: `modelcdn ${m}`, ours: true, size: null, makeS: null, makeCpuS: null, applyS: null, applyCpuS: null, peakMB: null, note: mk.run.stderr.trim().split('\n').pop() });
      continue;
    }
    // apply in --reps fresh processes; each figure is the median over them (the box is shared).
    // Headline: no fsync before the rename, like bspatch, xdelta3 and zstd; then again with fsync.
    // each process starts without OUT, as each external tool does (see bench/delta-run.ts)
    const fresh = (cmd: string[]) => {
      rmSync(out, { force: true });
      return ours(cmd);
    };
    const aps = Array.from({ length: Math.max(1, Number(opt.reps) || 1) }, () => fresh(['apply', p.old, patch, out]));
    const apsF = Array.from({ length: Math.max(1, Number(opt.reps) || 1) }, () => fresh(['apply', p.old, patch, out, 'fsync']));
    const medOf = (runs: { inner: Inner | null }[], k: keyof Inner): number | undefined => {
      const xs = runs.map((x) => x.inner?.[k]).filter((v): v is number => typeof v === 'number').sort((x, y) => x - y);
      return xs.length ? xs[xs.length >> 1] : undefined;
    };
    const fsyncMs = medOf(apsF, 'ms');
    const fsyncSteadyMs = medOf(apsF, 'steadyMs');
    const inners = aps.map((x) => x.inner).filter((x): x is Inner => x !== null);
    const med = (k: keyof Inner): number | undefined => {
      const xs = inners.map((x) => x[k]).filter((v): v is number => typeof v === 'number').sort((x, y) => x - y);
      return xs.length ? xs[xs.length >> 1] : undefined;
    };
    const ap = {
      run: { ...aps[0].run, ok: aps.every((x) => x.run.ok), peakMB: Math.max(...aps.map((x) => x.run.peakMB ?? 0)) || null },
      inner: inners.length ? { ms: med('ms')!, cpuMs: med('cpuMs')!, warmMs: med('warmMs'), warmCpuMs: med('warmCpuMs'), steadyMs: med('steadyMs'), steadyCpuMs: med('steadyCpuMs') } : null,
    };
    check({
      tool: `modelcdn ${m}`,
      ours: true,
      size: size(patch),
      makeS: mk.inner.ms / 1000,
      makeCpuS: mk.inner.cpuMs / 1000,
      applyS: ap.inner ? ap.inner.ms / 1000 : null,
      applyCpuS: ap.inner ? ap.inner.cpuMs / 1000 : null,
      applyWarmS: ap.inner?.warmMs !== undefined ? ap.inner.warmMs / 1000 : null,
      applyWarmCpuS: ap.inner?.warmCpuMs !== undefined ? ap.inner.warmCpuMs / 1000 : null,
      applySteadyS: ap.inner?.steadyMs !== undefined ? ap.inner.steadyMs / 1000 : null,
      applySteadyCpuS: ap.inner?.steadyCpuMs !== undefined ? ap.inner.steadyCpuMs / 1000 : null,
      applyFsyncS: fsyncMs !== undefined ? fsyncMs / 1000 : null,
      applySteadyFsyncS: fsyncSteadyMs !== undefined ? fsyncSteadyMs / 1000 : null,
      peakMB: Math.max(mk.run.peakMB ?? 0, ap.run.peakMB ?? 0) || null,
      ...(ap.run.ok && apsF.every((x) => x.run.ok) ? {} : { note: 'apply failed' }),
    });
    rmSync(patch, { force: true });
  }
  const ext = (tool: string, bin: string, make: string[], apply: string[], patch: string, skip?: string) => {
    if (!have(bin)) return results.push({ tool, ours: false, size: null, makeS: null, makeCpuS: null, applyS: null, applyCpuS: null, peakMB: null, note: `${bin} not installed` });
    if (skip) return results.push({ tool, ours: false, size: null, makeS: null, makeCpuS: null, applyS: null, applyCpuS: null, peakMB: null, note: skip });
    const mk = timed(bin, make);
    if (!mk.ok) return results.push({ tool, ours: false, size: null, makeS: null, makeCpuS: null, applyS: null, applyCpuS: null, peakMB: null, note: mk.stderr.trim().slice(0, 80) });
    const ap = timed(bin === 'bsdiff' ? 'bspatch' : bin, apply);
    check({ tool, ours: false, size: size(patch), makeS: mk.wallS, makeCpuS: mk.cpuS, applyS: ap.wallS, applyCpuS: ap.cpuS, peakMB: Math.max(mk.peakMB ?? 0, ap.peakMB ?? 0) || null });
    rmSync(patch, { force: true });
  };
  const bp = join(work, 'p.bsdiff');
  ext('bsdiff (Debian 4.3)', 'bsdiff', [p.old, p.new, bp], [p.old, out, bp], bp, opt.quick && newSize > 1e6 ? 'skipped (--quick)' : undefined);
  const xp = join(work, 'p.xd3');
  ext('xdelta3 -9 -S djw', 'xdelta3', ['-9', '-S', 'djw', '-e', '-f', '-s', p.old, p.new, xp], ['-d', '-f', '-s', p.old, xp, out], xp);
  const zp = join(work, 'p.zst');
  ext('zstd --patch-from -19 --long=27', 'zstd', ['-q', '-f', '-19', '--long=27', `--patch-from=${p.old}`, p.new, '-o', zp], ['-q', '-f', '-d', '--long=27', `--patch-from=${p.old}`, zp, '-o', out], zp);
  return { pair: p, newSize, results };
}

const pct = (n: number | null, of: number) => (n === null ? '—' : ((100 * n) / of).toFixed(2));
const sec = (s: number | null) => (s === null ? '—' : s < 10 ? s.toFixed(2) : s.toFixed(1));

/**
 * The baselines come from Debian (bsdiff 4.3, xdelta3, zstd): install whichever is missing, as .ci/run
 * does, when this is a Debian system we may install on (root with apt-get); otherwise say what to run.
 */
function ensureBaselines(): void {
  const missing = [['bsdiff', 'bsdiff'], ['bspatch', 'bsdiff'], ['xdelta3', 'xdelta3'], ['zstd', 'zstd']].filter(([bin]) => !have(bin!)).map(([, pkg]) => pkg!);
  const pkgs = [...new Set(missing)];
  if (pkgs.length === 0) return;
  if (process.getuid?.() === 0 && have('apt-get')) {
    log(`… installing Debian packages for the baselines: ${pkgs.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { stdio: 'ignore', env });
    if (r.status === 0) return;
  }
  log(`baselines missing (${pkgs.join(' ')}): their rows will say so; install with: apt-get install ${pkgs.join(' ')}`);
}

interface ScaleRow {
  inputMB: number;
  makeS: number | null;
  peakMB: number | null;
  peakPerInput: number | null;
  /** peak RSS of the same make on a 1 kB pair: Node, tsx and the modules, before any input */
  baselineMB: number | null;
  peakAbovePerInput: number | null;
  patchPct: number | null;
  bspatchOk: boolean | null;
  bspatchS: number | null;
  applyOk: boolean | null;
  applyS: number | null;
  note?: string;
}

/**
 * bsdiff at scale (--bsdiff-scale MB): the issue asks for suffix sorting that keeps memory within 10x
 * the input so 100 MB inputs work. A generated safetensors pair (src/delta/test-util.ts, every weight
 * of two of its three big tensors perturbed by N(0, 1e-3)) of about MB megabytes; modelcdn's bsdiff
 * runs in its own process under /usr/bin/time (peak RSS, Node's own ~80 MB included).
 */
function bsdiffScale(mb: number): ScaleRow {
  const p = makeSafetensorsPair(11, Math.max(1, Math.round((mb * 1e6) / 12_000)));
  const old = join(work, 'scale-old.safetensors');
  const nw = join(work, 'scale-new.safetensors');
  writeFileSync(old, p.old);
  writeFileSync(nw, p.nw);
  const want = sha(nw);
  const patch = join(work, 'scale.bsdiff');
  log(`… bsdiff at scale: ${(p.old.length / 1e6).toFixed(1)} MB (modelcdn diff --method bsdiff)`);
  const mk = ours(['make', old, nw, patch, 'bsdiff']);
  const tiny = join(work, 'scale-tiny');
  writeFileSync(tiny, p.old.subarray(0, 1024));
  const base = ours(['make', tiny, tiny, join(work, 'scale-tiny.bsdiff'), 'bsdiff']).run.peakMB;
  const per = (mbytes: number | null) => (mbytes !== null ? (mbytes * 1024 * 1024) / p.old.length : null);
  const row: ScaleRow = {
    inputMB: p.old.length / 1e6,
    makeS: mk.run.ok ? mk.run.wallS : null,
    peakMB: mk.run.peakMB,
    peakPerInput: per(mk.run.peakMB),
    baselineMB: base,
    peakAbovePerInput: mk.run.peakMB !== null && base !== null ? per(mk.run.peakMB - base) : null,
    patchPct: mk.run.ok ? (100 * size(patch)) / p.nw.length : null,
    bspatchOk: null,
    bspatchS: null,
    applyOk: null,
    applyS: null,
  };
  if (!mk.run.ok) return { ...row, note: mk.run.stderr.trim().split('\n').pop() ?? 'make failed' };
  const out = join(work, 'scale-out');
  if (have('bspatch')) {
    rmSync(out, { force: true });
    const r = timed('bspatch', [old, out, patch]);
    row.bspatchOk = r.ok && sha(out) === want;
    row.bspatchS = r.wallS;
  }
  rmSync(out, { force: true });
  const ap = ours(['apply', old, patch, out]);
  row.applyOk = ap.run.ok && sha(out) === want;
  row.applyS = ap.inner ? ap.inner.ms / 1000 : null;
  return row;
}

async function main(): Promise<void> {
  ensureBaselines();
  const scale = opt['bsdiff-scale'] !== undefined ? bsdiffScale(Number(opt['bsdiff-scale'])) : undefined;
  const fam = await family();
  const all = [];
  for (const p of await pairs()) {
    log(`… ${p.name}`);
    all.push(await benchPair(p));
  }
  const summary = all.map(({ pair, newSize, results }) => {
    const ok = (m: Measure) => m.size !== null;
    const mine = results.filter((m) => m.ours && ok(m)).sort((a, b) => a.size! - b.size!)[0];
    const base = results.filter((m) => !m.ours && ok(m)).sort((a, b) => a.size! - b.size!)[0];
    const bsd = results.find((m) => m.tool.startsWith('bsdiff') && ok(m));
    return {
      pair: pair.name,
      newSize,
      ours: mine
        ? {
            tool: mine.tool,
            pct: (100 * mine.size!) / newSize,
            makeS: mine.makeS,
            makeCpuS: mine.makeCpuS,
            applyS: mine.applyS,
            applyMBs: mine.applyS ? newSize / 1e6 / mine.applyS : null,
            applyCpuMBs: mine.applyCpuS ? newSize / 1e6 / mine.applyCpuS : null,
            applySteadyMBs: mine.applySteadyS ? newSize / 1e6 / mine.applySteadyS : null,
            applySteadyCpuMBs: mine.applySteadyCpuS ? newSize / 1e6 / mine.applySteadyCpuS : null,
            applyWarmMBs: mine.applyWarmS ? newSize / 1e6 / mine.applyWarmS : null,
            applyWarmCpuMBs: mine.applyWarmCpuS ? newSize / 1e6 / mine.applyWarmCpuS : null,
            applyFsyncMBs: mine.applyFsyncS ? newSize / 1e6 / mine.applyFsyncS : null,
            applySteadyFsyncMBs: mine.applySteadyFsyncS ? newSize / 1e6 / mine.applySteadyFsyncS : null,
          }
        : null,
      best: base ? { tool: base.tool, pct: (100 * base.size!) / newSize } : null,
      bsdiffMakeS: bsd?.makeS ?? null,
      bsdiffMakeCpuS: bsd?.makeCpuS ?? null,
    };
  });
  const pipe = opt.only || opt['no-family'] ? [] : await pipeline(fam);
  if (opt.json) {
    process.stdout.write(JSON.stringify({ pairs: all, summary, pipeline: pipe, bsdiffScale: scale ?? null, nativeHash: nativeAvailable() }, null, 2) + '\n');
  } else {
    for (const { pair, newSize, results } of all) {
      const best = Math.min(...results.filter((m) => !m.ours && m.size !== null).map((m) => m.size!));
      process.stdout.write(`\n${pair.name}  (${basename(pair.old)} → ${basename(pair.new)}, new ${(newSize / 1e6).toFixed(2)} MB)\n`);
      process.stdout.write(
        table(
          ['tool', '% of new', 'vs best base', 'make s', 'make cpu s', 'apply s', 'apply cpu s', 'apply MB/s', 'warm apply MB/s', 'peak MB', 'note'],
          results.map((m) => [
            m.tool,
            pct(m.size, newSize),
            m.size !== null && Number.isFinite(best) ? `${(m.size / best).toFixed(3)}x` : '—',
            sec(m.makeS),
            sec(m.makeCpuS),
            sec(m.applyS),
            sec(m.applyCpuS),
            m.applyS ? (newSize / 1e6 / m.applyS).toFixed(0) : '—',
            m.applyWarmS ? (newSize / 1e6 / m.applyWarmS).toFixed(0) : '—',
            m.peakMB ? m.peakMB.toFixed(0) : '—',
            m.note ?? '',
          ]),
        ) + '\n',
      );
    }
    process.stdout.write('\nSummary (ours = smallest modelcdn method; best baseline = smallest of bsdiff, xdelta3, zstd --patch-from)\n');
    process.stdout.write(
      table(
        ['pair', 'ours %', 'method', 'best base %', 'baseline', 'points', 'make speedup vs bsdiff (wall / cpu)', 'apply MB/s cold', 'cold, per CPU s', 'warm', 'warm, per CPU s', 'steady', 'steady, per CPU s', 'cold +fsync', 'steady +fsync'],
        summary.map((s) => [
          s.pair,
          s.ours ? s.ours.pct.toFixed(2) : '—',
          s.ours?.tool.replace('modelcdn ', '') ?? '—',
          s.best ? s.best.pct.toFixed(2) : '—',
          s.best?.tool ?? '—',
          s.ours && s.best ? (s.ours.pct - s.best.pct).toFixed(2) : '—',
          s.ours?.makeS && s.bsdiffMakeS ? `${(s.bsdiffMakeS / s.ours.makeS).toFixed(1)}x / ${s.ours.makeCpuS && s.bsdiffMakeCpuS ? (s.bsdiffMakeCpuS / s.ours.makeCpuS).toFixed(1) : '—'}x` : '—',
          s.ours?.applyMBs ? s.ours.applyMBs.toFixed(0) : '—',
          s.ours?.applyCpuMBs ? s.ours.applyCpuMBs.toFixed(0) : '—',
          s.ours?.applyWarmMBs ? s.ours.applyWarmMBs.toFixed(0) : '—',
          s.ours?.applyWarmCpuMBs ? s.ours.applyWarmCpuMBs.toFixed(0) : '—',
          s.ours?.applySteadyMBs ? s.ours.applySteadyMBs.toFixed(0) : '—',
          s.ours?.applySteadyCpuMBs ? s.ours.applySteadyCpuMBs.toFixed(0) : '—',
          s.ours?.applyFsyncMBs ? s.ours.applyFsyncMBs.toFixed(0) : '—',
          s.ours?.applySteadyFsyncMBs ? s.ours.applySteadyFsyncMBs.toFixed(0) : '—',
        ]),
      ) + '\n',
    );
    const find = (k: string) => summary.find((s) => s.pair.includes(k));
    const s3 = find('rec σ=1e-3');
    const l10 = find('last10pct');
    const checks: [string, boolean | null][] = [
      ['σ=1e-3 all-weights ≤ 52 %', s3?.ours ? s3.ours.pct <= 52 : null],
      ['last-10 % pair ≤ 5.5 %', l10?.ours ? l10.ours.pct <= 5.5 : null],
      ['no pair worse than the best baseline by > 1 point', summary.every((s) => !s.ours || !s.best || s.ours.pct <= s.best.pct + 1)],
      ['make ≥ 10x faster than Debian bsdiff on the 10.8 MB model (σ=1e-3)', s3?.ours?.makeS && s3.bsdiffMakeS ? s3.bsdiffMakeS / s3.ours.makeS >= 10 : null],
      ['apply ≥ 200 MB/s (ppocr pairs, cold process, wall; no fsync, like the tools)', summary.some((s) => s.pair.startsWith('ppocr')) ? summary.filter((s) => s.pair.startsWith('ppocr')).every((s) => (s.ours?.applyMBs ?? 0) >= 200) : null],
      ['apply ≥ 200 MB/s (ppocr pairs, warm process, wall)', summary.some((s) => s.pair.startsWith('ppocr')) ? summary.filter((s) => s.pair.startsWith('ppocr')).every((s) => (s.ours?.applyWarmMBs ?? 0) >= 200) : null],
      ['apply ≥ 200 MB/s (ppocr pairs, warm process, per CPU second)', summary.some((s) => s.pair.startsWith('ppocr')) ? summary.filter((s) => s.pair.startsWith('ppocr')).every((s) => (s.ours?.applyWarmCpuMBs ?? 0) >= 200) : null],
      ['apply ≥ 200 MB/s (ppocr pairs, steady state, wall)', summary.some((s) => s.pair.startsWith('ppocr')) ? summary.filter((s) => s.pair.startsWith('ppocr')).every((s) => (s.ours?.applySteadyMBs ?? 0) >= 200) : null],
      ['apply ≥ 200 MB/s (ppocr pairs, steady state, per CPU second)', summary.some((s) => s.pair.startsWith('ppocr')) ? summary.filter((s) => s.pair.startsWith('ppocr')).every((s) => (s.ours?.applySteadyCpuMBs ?? 0) >= 200) : null],
      ['apply ≥ 200 MB/s (ppocr pairs, cold process, wall, with fsync as `modelcdn patch` does)', summary.some((s) => s.pair.startsWith('ppocr')) ? summary.filter((s) => s.pair.startsWith('ppocr')).every((s) => (s.ours?.applyFsyncMBs ?? 0) >= 200) : null],
    ];
    if (pipe.length) {
      process.stdout.write('\nThe seed\'s pipeline (§3): FP32 → INT8 → INT8 update (tensor patch), next to the seed\'s 2 GB → 500 MB (25 %) → 25 MB (5 % of INT8)\n');
      process.stdout.write(
        table(
          ['model', 'FP32 bytes', 'INT8 bytes', 'INT8 / FP32', 'successor', 'INT8→INT8 patch', 'patch % of INT8', 'note'],
          pipe.map((r) => [r.model, r.fp32, r.int8 || '—', r.int8 ? `${((100 * r.int8) / r.fp32).toFixed(1)} %` : '—', r.successor, r.patch ?? '—', r.patch && r.int8 ? `${((100 * r.patch) / r.int8).toFixed(2)} %` : '—', r.note ?? '']),
        ) + '\n',
      );
    }
    if (scale) {
      process.stdout.write(`\nbsdiff at scale (--bsdiff-scale): modelcdn diff --method bsdiff on a generated ${scale.inputMB.toFixed(1)} MB pair\n`);
      process.stdout.write(
        table(
          ['input MB', 'make s', 'peak MB', 'peak / input', 'Node baseline MB', '(peak − baseline) / input', 'patch % of new', 'Debian bspatch applies it', 'bspatch s', 'modelcdn patch applies it', 'apply s', 'note'],
          [[scale.inputMB.toFixed(1), sec(scale.makeS), scale.peakMB?.toFixed(0) ?? '—', scale.peakPerInput ? `${scale.peakPerInput.toFixed(1)}x` : '—', scale.baselineMB?.toFixed(0) ?? '—', scale.peakAbovePerInput ? `${scale.peakAbovePerInput.toFixed(1)}x` : '—', scale.patchPct?.toFixed(2) ?? '—', String(scale.bspatchOk ?? '—'), sec(scale.bspatchS), String(scale.applyOk ?? '—'), sec(scale.applyS), scale.note ?? '']],
        ) + '\n',
      );
      checks.push([`bsdiff on a ${scale.inputMB.toFixed(0)} MB input: works both ways, memory above Node's own ≤ 10x the input`, scale.peakAbovePerInput !== null && scale.applyOk === true && scale.bspatchOk !== false ? scale.peakAbovePerInput <= 10 : false]);
    }
    process.stdout.write('\nTargets (issue 5)\n' + checks.map(([k, v]) => `  ${v === null ? 'n/a ' : v ? 'PASS' : 'FAIL'}  ${k}`).join('\n') + '\n');
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    process.stdout.write(`\n(load average during the run: ${load}; wall times on a shared 2-core box — CPU columns are steadier)\n`);
    process.stdout.write(`(modelcdn's sha256 of OLD and NEW: ${nativeAvailable() ? 'on the thread pool beside the decode (native addon)' : 'on the decoding thread (native addon off or not built)'})\n`);
  }
  mkdirSync(join(REPO_ROOT, 'bench', 'out'), { recursive: true });
  writeFileSync(join(REPO_ROOT, 'bench', 'out', 'delta.json'), JSON.stringify({ pairs: all, summary, pipeline: pipe, bsdiffScale: scale ?? null, nativeHash: nativeAvailable() }, null, 2) + '\n');
}

try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
