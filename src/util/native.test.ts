import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { McdnError } from '../errors.ts';
import { OFF_THREAD_MIN_BYTES, createStreamHasher, nativeAvailable, nativeBzip2DecompressExact, sha256FileOffThread, startWriteback } from './native.ts';

const dir = mkdtempSync(join(tmpdir(), 'mcdn-native-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('the addon is built by npm ci and in use (MODELCDN_NATIVE=off is the only way to switch it off)', () => {
  assert.equal(nativeAvailable(), process.env['MODELCDN_NATIVE'] !== 'off');
});

test('sha256FileOffThread: the digest of the first `size` bytes, read and hashed on the thread pool', { skip: !nativeAvailable() && 'addon off' }, async () => {
  for (const n of [0, 1, 65_535, (1 << 20) - 1, 1 << 20, (3 << 20) + 17]) {
    const b = randomBytes(n);
    const p = join(dir, `f-${n}`);
    writeFileSync(p, b);
    assert.equal(await sha256FileOffThread(p, n), sha(b), `size ${n}`);
    if (n > 10) assert.equal(await sha256FileOffThread(p, n - 10), sha(b.subarray(0, n - 10)), `prefix of ${n}`);
  }
});

test('sha256FileOffThread: a shorter file is FILE_CHANGED, a missing one FILE_NOT_FOUND, a directory an McdnError', { skip: !nativeAvailable() && 'addon off' }, async () => {
  const p = join(dir, 'short');
  writeFileSync(p, randomBytes(1000));
  await assert.rejects(sha256FileOffThread(p, 1001)!, (e: unknown) => e instanceof McdnError && e.code === 'FILE_CHANGED');
  await assert.rejects(sha256FileOffThread(join(dir, 'nope'), 1)!, (e: unknown) => e instanceof McdnError && e.code === 'FILE_NOT_FOUND');
  await assert.rejects(sha256FileOffThread(dir, 1)!, (e: unknown) => e instanceof McdnError);
});

test('createStreamHasher: any split of any bytes gives node:crypto digest (pieces above and below the off-thread size)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 300_000 }), fc.array(fc.nat({ max: 200_000 }), { maxLength: 8 }), async (bytes, cuts) => {
      const h = createStreamHasher({ minOffThreadBytes: 4096 });
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      let at = 0;
      for (const p of [...points, bytes.length]) {
        const r = h.update(bytes.subarray(at, p));
        if (r) await r;
        at = p;
      }
      assert.equal(h.digest(), sha(bytes));
    }),
    { numRuns: 60 },
  );
});

test('createStreamHasher: large pieces go to the thread pool and must be awaited one at a time', { skip: !nativeAvailable() && 'addon off' }, async () => {
  const h = createStreamHasher();
  assert.equal(h.offThread, true);
  const b = randomBytes(OFF_THREAD_MIN_BYTES * 4);
  const p = h.update(b);
  assert.ok(p instanceof Promise, 'a large piece is hashed off the thread');
  assert.throws(() => h.update(b), (e: unknown) => (e as { code?: string }).code === 'ERR_SHA256_BUSY');
  await p;
  assert.equal(h.update(b.subarray(0, 10)), undefined, 'a small piece is hashed in place');
  assert.equal(h.digest(), sha(Buffer.concat([b, b.subarray(0, 10)])));
  assert.throws(() => h.digest(), (e: unknown) => (e as { code?: string }).code === 'ERR_SHA256_FINISHED');
});

test('the binding rejects what is not a handle or bytes with a clear error', { skip: !nativeAvailable() && 'addon off' }, () => {
  const n = createRequire(import.meta.url)('@modelcdn/native') as Record<string, (...a: unknown[]) => unknown>;
  assert.throws(() => n['sha256Digest']!({}), (e: unknown) => (e as { code?: string }).code === 'ERR_INVALID_ARG_TYPE');
  assert.throws(() => n['sha256UpdateSync']!(n['sha256Create']!(), 'text'), (e: unknown) => (e as { code?: string }).code === 'ERR_INVALID_ARG_TYPE');
  assert.throws(() => n['sha256File']!('x', -1, 1), (e: unknown) => (e as { code?: string }).code === 'ERR_INVALID_ARG_TYPE');
  assert.throws(() => n['sha256File']!('a\0b', 0, 1), (e: unknown) => (e as { code?: string }).code === 'ERR_INVALID_ARG_VALUE');
});

test('startWriteback: resolves for a written range of an open file, rejects for a bad descriptor', { skip: !nativeAvailable() && 'addon off' }, async () => {
  const p = join(dir, 'wb');
  const fd = openSync(p, 'w');
  try {
    writeSync(fd, randomBytes(3 << 20));
    await startWriteback(fd, 0, 3 << 20);
  } finally {
    closeSync(fd);
  }
  await assert.rejects(startWriteback(1 << 30, 0, 1)!, (e: unknown) => (e as { code?: string }).code === 'EBADF');
});

test('the addon carries libbz2 where its header is installed (Debian libbz2-dev; .ci/run installs it)', { skip: !nativeAvailable() && 'addon off' }, () => {
  const n = createRequire(import.meta.url)('@modelcdn/native') as Record<string, unknown>;
  assert.equal(typeof n['bzip2CompressInto'] === 'function', existsSync('/usr/include/bzlib.h'));
});

test('libbz2 decoding through the addon: exactly the expected length, else ERR_BZIP2_CORRUPT (short, long, truncated, damaged)', { skip: (!nativeAvailable() || !existsSync('/usr/include/bzlib.h')) && 'no libbz2 in the addon' }, () => {
  const data = randomBytes(200_000);
  data.fill(0, 50_000, 150_000);
  const z = new Uint8Array(spawnSync('bzip2', ['-9'], { input: data }).stdout);
  assert.deepEqual(nativeBzip2DecompressExact(z, data.length), new Uint8Array(data));
  const code = (f: () => unknown) => {
    try {
      f();
      return 'no error';
    } catch (e) {
      return (e as { code?: string }).code;
    }
  };
  assert.equal(code(() => nativeBzip2DecompressExact(z, data.length - 1)), 'ERR_BZIP2_CORRUPT');
  assert.equal(code(() => nativeBzip2DecompressExact(z, data.length + 1)), 'ERR_BZIP2_CORRUPT');
  assert.equal(code(() => nativeBzip2DecompressExact(z.subarray(0, z.length - 20), data.length)), 'ERR_BZIP2_CORRUPT');
  const bad = Uint8Array.from(z);
  bad[z.length >> 1] ^= 0xff;
  assert.equal(code(() => nativeBzip2DecompressExact(bad, data.length)), 'ERR_BZIP2_CORRUPT');
  assert.deepEqual(nativeBzip2DecompressExact(new Uint8Array(spawnSync('bzip2', ['-9'], { input: new Uint8Array(0) }).stdout), 0), new Uint8Array(0));
});

test('MODELCDN_NATIVE=off: hashing on the calling thread, and patches still apply with every check', () => {
  const script = `
    import assert from 'node:assert/strict';
    import { writeFileSync, existsSync } from 'node:fs';
    import { join } from 'node:path';
    import { nativeAvailable, createStreamHasher, sha256FileOffThread, startWriteback } from './src/util/native.ts';
    import { makePatch, applyPatch } from './src/delta/index.ts';
    import { makeSafetensorsPair } from './src/delta/test-util.ts';
    assert.equal(nativeAvailable(), false);
    assert.equal(createStreamHasher().offThread, false);
    assert.equal(sha256FileOffThread('x', 1), undefined);
    assert.equal(startWriteback(0, 0, 1), undefined);
    const dir = process.env.DIR;
    const pair = makeSafetensorsPair(7, 4);
    writeFileSync(join(dir, 'old'), pair.old);
    writeFileSync(join(dir, 'new'), pair.nw);
    await makePatch(join(dir, 'old'), join(dir, 'new'), join(dir, 'p'), { method: 'tensor', level: 1 });
    await applyPatch(join(dir, 'old'), join(dir, 'p'), join(dir, 'out'));
    assert.ok(Buffer.from(pair.nw).equals(require('node:fs').readFileSync(join(dir, 'out'))));
    const other = Uint8Array.from(pair.old); other[other.length - 1] ^= 1;
    writeFileSync(join(dir, 'other'), other);
    await assert.rejects(applyPatch(join(dir, 'other'), join(dir, 'p'), join(dir, 'out2')), (e) => e.code === 'PATCH_WRONG_BASE');
    assert.equal(existsSync(join(dir, 'out2')), false);
  `;
  const sub = mkdtempSync(join(dir, 'off-'));
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);\n${script}`], {
    cwd: new URL('../..', import.meta.url).pathname,
    env: { ...process.env, MODELCDN_NATIVE: 'off', DIR: sub },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
});
