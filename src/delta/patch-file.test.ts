import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../cli/main.ts';
import { EXIT_CODES, EXIT_NO_BENEFIT, McdnError } from '../errors.ts';
import { applyPatch, makePatch, readPatchHeader } from './patch-file.ts';
import { PATCH_HEADER_BYTES } from './container.ts';
import { makeSafetensorsPair, prng } from './test-util.ts';

const dir = mkdtempSync(join(tmpdir(), 'mcdn-delta-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const pair = makeSafetensorsPair(11, 3);
const OLD = join(dir, 'old.safetensors');
const NEW = join(dir, 'new.safetensors');
writeFileSync(OLD, pair.old);
writeFileSync(NEW, pair.nw);

function sink(): { stream: Writable; text: () => string } {
  let s = '';
  return {
    stream: new Writable({
      write(c, _e, cb) {
        s += String(c);
        cb();
      },
    }),
    text: () => s,
  };
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = sink();
  const e = sink();
  const code = await main(argv, { stdout: o.stream, stderr: e.stream });
  return { code, out: o.text(), err: e.text() };
}

function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const noTemps = () => readdirSync(dir).filter((f) => f.includes('.tmp-'));

for (const method of ['binary', 'tensor', 'bsdiff'] as const) {
  test(`${method}: makePatch → applyPatch reproduces NEW; header records hashes`, async () => {
    const patch = join(dir, `p.${method}`);
    const r = await makePatch(OLD, NEW, patch, { method, level: 3 });
    assert.equal(r.method, method);
    assert.equal(r.size, readFileSync(patch).length);
    const h = await readPatchHeader(patch);
    assert.equal(h.method, method);
    assert.equal(h.oldSha256, r.oldSha256);
    assert.equal(h.newSha256, r.newSha256);
    assert.equal(h.newSize, pair.nw.length);
    const out = join(dir, `out.${method}`);
    const a = await applyPatch(OLD, patch, out);
    assert.equal(a.sha256, r.newSha256);
    assert.deepEqual(new Uint8Array(readFileSync(out)), pair.nw);
  });
}

test('bsdiff method writes a BSDIFF40 file that Debian bspatch applies (hash trailer ignored)', { skip: !hasTool('bspatch') && 'bspatch not installed' }, async () => {
  const patch = join(dir, 'deb.bsdiff');
  await makePatch(OLD, NEW, patch, { method: 'bsdiff' });
  assert.equal(readFileSync(patch).subarray(0, 8).toString(), 'BSDIFF40');
  execFileSync('bspatch', [OLD, join(dir, 'deb.out'), patch]);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'deb.out'))), pair.nw);
});

test('a raw Debian bsdiff patch applies: no hashes, NEW size checked', { skip: !hasTool('bsdiff') && 'bsdiff not installed' }, async () => {
  const patch = join(dir, 'raw.bsdiff');
  execFileSync('bsdiff', [OLD, NEW, patch]);
  const h = await readPatchHeader(patch);
  assert.equal(h.method, 'bsdiff');
  assert.equal(h.oldSha256, undefined);
  const r = await applyPatch(OLD, patch, join(dir, 'raw.out'));
  assert.equal(r.size, pair.nw.length);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'raw.out'))), pair.nw);
});

test('CLI: diff --json then patch; auto keeps the smallest candidate', async () => {
  const patch = join(dir, 'auto.patch');
  const d = await cli('diff', OLD, NEW, '-o', patch, '--json', '--level', '3');
  assert.equal(d.code, 0, d.err);
  const j = JSON.parse(d.out) as { method: string; size: number; candidates: { method: string; size: number }[] };
  assert.equal(j.size, Math.min(...j.candidates.map((c) => c.size)));
  assert.deepEqual(j.candidates.map((c) => c.method).sort(), ['binary', 'bsdiff', 'tensor']);
  assert.equal(j.method, 'tensor');
  const out = join(dir, 'auto.out');
  const p = await cli('patch', OLD, patch, '-o', out);
  assert.equal(p.code, 0, p.err);
  assert.match(p.out, /wrote .*auto\.out/);
  assert.deepEqual(new Uint8Array(readFileSync(out)), pair.nw);
});

test('CLI: auto with no benefit exits 10 and writes nothing', async () => {
  const rnd = prng(5);
  const a = join(dir, 'rand.a');
  const b = join(dir, 'rand.b');
  writeFileSync(a, Uint8Array.from({ length: 20000 }, () => Math.floor(rnd() * 256)));
  writeFileSync(b, Uint8Array.from({ length: 20000 }, () => Math.floor(rnd() * 256)));
  const patch = join(dir, 'nobenefit.patch');
  // unrelated random files: no patch can beat a full download of that size
  const r = await cli('diff', a, b, '-o', patch, '--full-size', '20000');
  assert.equal(r.code, EXIT_NO_BENEFIT);
  assert.match(r.out, /no patch is smaller than the packed full file/);
  assert.equal(existsSync(patch), false);
  // without --full-size the codec packs NEW and its size is the bar
  const lib = await makePatch(a, b, patch, { level: 1 });
  assert.ok(lib.fullPackedSize !== undefined && lib.fullPackedSize > 19_000, `packed ${lib.fullPackedSize}`);
  assert.equal(lib.beneficial, lib.size < lib.fullPackedSize!);
  assert.equal(existsSync(patch), lib.beneficial);
  rmSync(patch, { force: true });
  // an explicit method always writes
  assert.equal((await cli('diff', a, b, '-o', patch, '--method', 'binary')).code, 0);
  assert.equal(existsSync(patch), true);
});

test('wrong base: one clear error, nothing written', async () => {
  const patch = join(dir, 'wb.patch');
  await makePatch(OLD, NEW, patch, { method: 'tensor', level: 1 });
  const out = join(dir, 'wb.out');
  const r = await cli('patch', NEW, patch, '-o', out);
  assert.equal(r.code, EXIT_CODES.input);
  assert.equal(r.err.trim().split('\n').length, 1);
  assert.match(r.err, /is not the file .* was made from/);
  assert.equal(existsSync(out), false);
  // same size, different content → the sha256 check catches it
  const same = join(dir, 'same-size');
  const b = Uint8Array.from(pair.old);
  b[b.length - 1] ^= 1;
  writeFileSync(same, b);
  await assert.rejects(applyPatch(same, patch, out), (e: unknown) => e instanceof McdnError && e.code === 'PATCH_WRONG_BASE');
  assert.equal(existsSync(out), false);
  assert.deepEqual(noTemps(), []);
});

test('a caller-verified OLD is not hashed again; NEW is still checked', async () => {
  for (const method of ['tensor', 'binary'] as const) {
    const patch = join(dir, `trust-${method}.patch`);
    await makePatch(OLD, NEW, patch, { method, level: 1 });
    const h = await readPatchHeader(patch);
    const out = join(dir, `trust-${method}.out`);
    const r = await applyPatch(OLD, patch, out, { trustedOldSha256: h.oldSha256! });
    assert.ok(readFileSync(out).equals(pair.nw), method);
    assert.equal(r.sha256, h.newSha256);
    // a base that changed after the caller's check: caught by the decode (a zstd frame that used OLD
    // as its reference) or on NEW's hash — an McdnError either way, nothing written
    const changed = join(dir, `trust-${method}-changed`);
    const b = Uint8Array.from(pair.old);
    for (let i = 64; i < b.length; i += 997) b[i] ^= 0x5a;
    writeFileSync(changed, b);
    const out2 = join(dir, `trust-${method}-2.out`);
    await assert.rejects(applyPatch(changed, patch, out2, { trustedOldSha256: h.oldSha256! }), (e: unknown) => e instanceof McdnError && e.code !== 'PATCH_WRONG_BASE', method);
    assert.equal(existsSync(out2), false);
    // a trusted hash the patch does not record changes nothing: OLD is checked as usual
    await assert.rejects(applyPatch(changed, patch, out2, { trustedOldSha256: '0'.repeat(64) }), (e: unknown) => e instanceof McdnError && e.code === 'PATCH_WRONG_BASE', method);
  }
  assert.deepEqual(noTemps(), []);
});

test('truncated, corrupted, unknown-method and non-patch files: McdnError, no output', async () => {
  const patch = join(dir, 'good.patch');
  await makePatch(OLD, NEW, patch, { method: 'tensor', level: 1 });
  const good = new Uint8Array(readFileSync(patch));
  const unknown = Uint8Array.from(good);
  unknown[9] = 77; // method id; the header check now fails first…
  const cases: [string, Uint8Array, string][] = [
    ['truncated', good.subarray(0, good.length - 100), ''],
    ['header only', good.subarray(0, PATCH_HEADER_BYTES), ''],
    ['short header', good.subarray(0, 40), 'PATCH_TRUNCATED'],
    ['not a patch', new TextEncoder().encode('hello world, not a patch at all'), 'PATCH_BAD_MAGIC'],
    ['empty', new Uint8Array(0), 'PATCH_BAD_MAGIC'],
    ['method byte flipped', unknown, 'PATCH_HEADER_CORRUPT'],
  ];
  for (const [name, bytes, code] of cases) {
    const p = join(dir, `bad-${name.replace(/ /g, '-')}`);
    writeFileSync(p, bytes);
    const out = join(dir, 'bad.out');
    await assert.rejects(applyPatch(OLD, p, out), (e: unknown) => e instanceof McdnError && (!code || e.code === code), name);
    assert.equal(existsSync(out), false, name);
  }
  assert.deepEqual(noTemps(), []);
});

test('an unknown method id with a valid header check is reported as such', async () => {
  const { createHash } = await import('node:crypto');
  const b = new Uint8Array(readFileSync(join(dir, 'good.patch')));
  b[9] = 9;
  b.set(createHash('sha256').update(b.subarray(0, 96)).digest().subarray(0, 4), 96);
  const p = join(dir, 'unknown-method.patch');
  writeFileSync(p, b);
  const r = await cli('patch', OLD, p, '-o', join(dir, 'um.out'));
  assert.equal(r.code, EXIT_CODES.input);
  assert.match(r.err, /unknown patch method id 9/);
  assert.equal(existsSync(join(dir, 'um.out')), false);
});

test('tensor: a pair of several MB (OLD read through windows, NEW in many pieces) applies, also three at once', async () => {
  const big = makeSafetensorsPair(21, 400);
  const bigOld = join(dir, 'big-old.safetensors');
  writeFileSync(bigOld, big.old);
  const bigNew = join(dir, 'big-new.safetensors');
  writeFileSync(bigNew, big.nw);
  const patches = [join(dir, 'big.tensor'), join(dir, 'big-rev.tensor')];
  const r = await makePatch(bigOld, bigNew, patches[0], { method: 'tensor', level: 1 });
  assert.ok(r.tensorStats && r.tensorStats.copied > 0 && r.tensorStats.delta > 1 << 20, 'copies and MB-sized residuals');
  await makePatch(bigNew, bigOld, patches[1], { method: 'tensor', level: 1 });
  // forward and backward applies interleave: each needs its own working buffers
  const jobs = [
    applyPatch(bigOld, patches[0], join(dir, 'big.out0')),
    applyPatch(bigNew, patches[1], join(dir, 'big.out1')),
    applyPatch(bigOld, patches[0], join(dir, 'big.out2')),
  ];
  const done = await Promise.all(jobs);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'big.out0'))), big.nw);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'big.out1'))), big.old);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'big.out2'))), big.nw);
  assert.equal(done[0].sha256, r.newSha256);
  // and once more in sequence, on buffers reused from the runs above
  await applyPatch(bigNew, patches[1], join(dir, 'big.out3'));
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'big.out3'))), big.old);
  assert.deepEqual(noTemps(), []);
});

test('a damaged tensor plan with a wrong base reports the wrong base; with the right base, the damage', async () => {
  const patch = join(dir, 'plan.patch');
  await makePatch(OLD, NEW, patch, { method: 'tensor', level: 1 });
  const b = new Uint8Array(readFileSync(patch));
  b[PATCH_HEADER_BYTES + 12] ^= 0xff; // inside the zstd frame of the plan
  const damaged = join(dir, 'plan-damaged.patch');
  writeFileSync(damaged, b);
  const other = join(dir, 'plan-other-base');
  const o = Uint8Array.from(pair.old);
  o[o.length - 1] ^= 1;
  writeFileSync(other, o);
  const out = join(dir, 'plan.out');
  await assert.rejects(applyPatch(other, damaged, out), (e: unknown) => e instanceof McdnError && e.code === 'PATCH_WRONG_BASE');
  await assert.rejects(applyPatch(OLD, damaged, out), (e: unknown) => e instanceof McdnError && e.code === 'PATCH_CORRUPT');
  // damage in the data blocks surfaces while NEW is being decoded — beside OLD's hashing when that
  // runs off the main thread — and a wrong base is still what gets reported
  const c = new Uint8Array(readFileSync(patch));
  for (let i = c.length - 64; i < c.length; i += 7) c[i] ^= 0x55;
  const damagedData = join(dir, 'data-damaged.patch');
  writeFileSync(damagedData, c);
  await assert.rejects(applyPatch(other, damagedData, out), (e: unknown) => e instanceof McdnError && e.code === 'PATCH_WRONG_BASE');
  await assert.rejects(applyPatch(OLD, damagedData, out), (e: unknown) => e instanceof McdnError && (e.code === 'PATCH_CORRUPT' || e.code === 'PATCH_OUTPUT_MISMATCH'));
  assert.equal(existsSync(out), false);
  assert.deepEqual(noTemps(), []);
});
