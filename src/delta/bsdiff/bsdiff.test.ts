import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { bsdiff, bspatch, offtin, offtout } from './bsdiff.ts';
import { McdnError } from '../../errors.ts';
import { fixture } from '../../../test/fixtures.ts';

function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A realistic small pair: 300 kB of a real model, edited in place, with an insertion and a deletion. */
function samplePair(): [Uint8Array, Uint8Array] {
  const old = new Uint8Array(readFileSync(fixture('models/onnx/ppocr_mobile_v2_cls.onnx')).subarray(0, 300_000));
  const edited = Uint8Array.from(old);
  for (let i = 1000; i < edited.length; i += 777) edited[i] ^= 0x5a;
  const ins = new TextEncoder().encode('inserted bytes that were not there before');
  const nw = new Uint8Array(edited.length + ins.length - 2000);
  nw.set(edited.subarray(0, 5000), 0);
  nw.set(ins, 5000);
  nw.set(edited.subarray(7000), 5000 + ins.length);
  return [old, nw];
}

test('offtout/offtin round-trip sign-magnitude int64', () => {
  const buf = new Uint8Array(8);
  for (const x of [0, 1, -1, 255, 256, -65536, 2 ** 40 + 5, -(2 ** 52)]) {
    offtout(x, buf, 0);
    assert.equal(offtin(buf, 0), x);
  }
  offtout(-1, buf, 0);
  assert.deepEqual([...buf], [1, 0, 0, 0, 0, 0, 0, 0x80]);
});

test('bsdiff → bspatch round-trips random pairs', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 3000 }), fc.boolean(), (a, b, related) => {
      const nw = related ? Uint8Array.from([...b.subarray(0, 50), ...a, ...b.subarray(50, 80)]) : b;
      assert.deepEqual(bspatch(a, bsdiff(a, nw)), nw);
    }),
    { numRuns: 40 },
  );
});

test('our BSDIFF40 patch applies with Debian bspatch, and Debian bsdiff output applies with ours', { skip: !hasTool('bsdiff') && 'Debian bsdiff not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcdn-bsdiff-'));
  try {
    const [old, nw] = samplePair();
    writeFileSync(join(dir, 'old'), old);
    writeFileSync(join(dir, 'new'), nw);
    const ours = bsdiff(old, nw);
    writeFileSync(join(dir, 'ours.patch'), ours);
    execFileSync('bspatch', [join(dir, 'old'), join(dir, 'new.deb'), join(dir, 'ours.patch')]);
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'new.deb'))), nw);
    execFileSync('bsdiff', [join(dir, 'old'), join(dir, 'new'), join(dir, 'deb.patch')]);
    const deb = new Uint8Array(readFileSync(join(dir, 'deb.patch')));
    assert.deepEqual(bspatch(old, deb), nw);
    // same algorithm: sizes agree within bzip2 encoder differences
    assert.ok(Math.abs(ours.length - deb.length) <= Math.max(64, deb.length * 0.05), `ours ${ours.length} vs debian ${deb.length}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bspatch rejects corrupt patches with McdnError', () => {
  const [old, nw] = samplePair();
  const p = bsdiff(old.subarray(0, 20_000), nw.subarray(0, 20_000));
  const cases: Uint8Array[] = [p.subarray(0, 10), p.subarray(0, p.length - 20), Uint8Array.from(p).fill(0x41, 0, 8)];
  const neg = Uint8Array.from(p);
  neg[15] |= 0x80; // negative ctrl length
  cases.push(neg);
  const huge = Uint8Array.from(p);
  huge[30] = 0x7f; // new size beyond 2^53
  cases.push(huge);
  for (const c of cases) assert.throws(() => bspatch(old.subarray(0, 20_000), c), McdnError);
});

test('bzip2CompressInto writes the same stream as bzip2Compress, in place, within bzip2Bound; too little room is a RangeError', async () => {
  const { bzip2Bound, bzip2Compress, bzip2CompressInto, bzip2Decompress } = await import('./bzip2.ts');
  const [old] = samplePair();
  const rnd = Uint8Array.from({ length: 50_000 }, (_, i) => (Math.imul(i + 1, 2654435761) >>> 13) & 0xff); // incompressible
  for (const data of [new Uint8Array(0), old.subarray(0, 1000), old, rnd]) {
    const ref = bzip2Compress(data);
    const out = new Uint8Array(7 + bzip2Bound(data.length));
    const n = bzip2CompressInto(data, out, 7);
    assert.ok(n <= bzip2Bound(data.length));
    assert.deepEqual(out.subarray(7, 7 + n), ref);
    assert.deepEqual(bzip2Decompress(out.subarray(7, 7 + n), data.length, 'test'), data);
  }
  assert.throws(() => bzip2CompressInto(old, new Uint8Array(100), 0), RangeError);
});

test('bsdiff output larger than the suffix array (NEW much larger than OLD) still builds and applies', () => {
  const old = Uint8Array.of(1, 2, 3);
  const nw = Uint8Array.from({ length: 20_000 }, (_, i) => (Math.imul(i + 7, 2654435761) >>> 11) & 0xff);
  assert.deepEqual(bspatch(old, bsdiff(old, nw)), nw);
});

/** 900 kB without runs, then four equal bytes exactly where compressjs fills its first 900 kB block. */
function cutRunInput(): Uint8Array {
  const n = 899_977;
  const d = new Uint8Array(n + 4 + 100);
  for (let i = 0; i < n; i++) d[i] = (i * 7) % 251;
  d.fill(65, n, n + 4);
  for (let i = n + 4; i < d.length; i++) d[i] = i % 13;
  return d;
}

test('bzip2 streams that end a block inside a run still decode with libbz2 (Debian bspatch, bzip2 -t)', { skip: !hasTool('bzip2') && 'bzip2 not installed' }, async () => {
  const { bzip2Compress, bzip2CutsRun } = await import('./bzip2.ts');
  const d = cutRunInput();
  assert.equal(bzip2CutsRun(d, 9), true, 'the input does hit the case');
  assert.equal(bzip2CutsRun(d.subarray(1), 9), false);
  const z = bzip2Compress(d);
  assert.equal(spawnSync('bzip2', ['-tq'], { input: z }).status, 0);
});

test('without the native addon: a smaller block size where that avoids the cut, else BSDIFF_BZIP2_UNSUPPORTED (auto then skips bsdiff)', { skip: !hasTool('bzip2') && 'bzip2 not installed' }, () => {
  const script = `
    import assert from 'node:assert/strict';
    import { spawnSync } from 'node:child_process';
    import { bzip2Compress, bzip2CutsRun } from './src/delta/bsdiff/bzip2.ts';
    const n = 899_977;
    const d = new Uint8Array(n + 4 + 100);
    for (let i = 0; i < n; i++) d[i] = (i * 7) % 251;
    d.fill(65, n, n + 4);
    for (let i = n + 4; i < d.length; i++) d[i] = i % 13;
    assert.equal(spawnSync('bzip2', ['-tq'], { input: bzip2Compress(d) }).status, 0);
    // two bytes, then 46 MB of zeros: every block size ends its first block on the fourth zero of a run
    const z = new Uint8Array(46_000_002); z[0] = 1; z[1] = 2;
    for (let m = 1; m <= 9; m++) assert.equal(bzip2CutsRun(z, m), true, 'm=' + m);
    assert.throws(() => bzip2Compress(z), (e) => e.code === 'BSDIFF_BZIP2_UNSUPPORTED');
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: new URL('../../..', import.meta.url).pathname, env: { ...process.env, MODELCDN_NATIVE: 'off' }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
