import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bytesSource } from '../formats/source.ts';
import type { TensorInfo } from '../formats/types.ts';
import { BLOCK_RAW_BYTES, ENCODE_BLOCK_RAW_BYTES, decodeTensorPayload, encodeTensorPayload, readTensorPlan, refCollector } from './tensor.ts';
import { McdnError } from '../errors.ts';
import { forwardResidual, inverseResidual, inverseResidualRun, invertScalar, joinRun, joinRunFast } from './residual.ts';
import { CHUNK_ELEMS, invertSimd, simdAvailable } from './residual-simd.ts';
import { gaussian, makeSafetensorsPair, perturbF32, prng } from './test-util.ts';

async function decode(payload: Uint8Array, old: Uint8Array, size: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  await decodeTensorPayload(payload, bytesSource(old), size, (c) => {
    parts.push(Uint8Array.from(c));
  });
  return new Uint8Array(Buffer.concat(parts));
}

test('residual ops invert for every width', () => {
  fc.assert(
    fc.property(fc.constantFrom(1, 2, 4), fc.constantFrom('x' as const, 's' as const), fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (w, op, a, b) => {
      const n = Math.min(a.length, b.length) - (Math.min(a.length, b.length) % w);
      const o = a.slice(0, n);
      const nw = b.slice(0, n);
      assert.deepEqual(inverseResidual(op, w, o, forwardResidual(op, w, o, nw)), nw);
    }),
  );
  // unaligned views are handled
  const buf = new Uint8Array(17);
  buf.fill(9);
  const o = buf.subarray(1, 17);
  const nw = new Uint8Array(16).fill(200);
  assert.deepEqual(inverseResidual('s', 4, o, forwardResidual('s', 4, o, nw)), nw);
});

test('plane-run inversion (word-wise fast path, unaligned planes/OLD, scratch dst) matches the plain inverse', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(1, 2, 4),
      fc.constantFrom('x' as const, 's' as const),
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 90 }),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 3 }),
      fc.uint8Array({ minLength: 400, maxLength: 400 }),
      (w, op, start, count, planeShift, oldShift, noise) => {
        const n = start + count;
        // planes as views at an offset of planeShift bytes (0: aligned fast path), OLD at oldShift
        const planes = Array.from({ length: w }, (_, k) => {
          const p = new Uint8Array(n + planeShift).subarray(planeShift);
          for (let i = 0; i < n; i++) p[i] = noise[(i * w + k) % noise.length] ^ (i * 31 + k);
          return p;
        });
        const oldBuf = Buffer.alloc(count * w + oldShift);
        for (let i = 0; i < count * w; i++) oldBuf[oldShift + i] = noise[(i * 7) % noise.length];
        const old = oldBuf.subarray(oldShift);
        const res = joinRun(w, { planes, start, count });
        const want = inverseResidual(op, w, Uint8Array.from(old), res);
        assert.deepEqual(inverseResidualRun(op, w, old, { planes, start, count }), want);
        const dst = new Uint8Array(count * w + 8);
        assert.deepEqual(Uint8Array.from(inverseResidualRun(op, w, old, { planes, start, count }, dst)), want);
        // in place (OLD already in the destination), and the scalar loops alone from any element
        const inPlace = Uint8Array.from(old);
        assert.deepEqual(inverseResidualRun(op, w, inPlace, { planes, start, count }, inPlace), want);
        const odd = new Uint8Array(count * w + 1).subarray(1); // a destination at an odd offset
        odd.set(old);
        assert.deepEqual(Uint8Array.from(inverseResidualRun(op, w, odd, { planes, start, count }, odd)), want);
        assert.deepEqual(Uint8Array.from(joinRunFast(w, { planes, start, count }, new Uint8Array(count * w + 3).subarray(3))), res);
        const from = count >> 1;
        const mixed = Uint8Array.from(want.subarray(0, from * w));
        const scalar = new Uint8Array(count * w);
        scalar.set(mixed);
        scalar.set(old.subarray(from * w, count * w), from * w);
        invertScalar(op, w, scalar, planes, start, from, count);
        assert.deepEqual(scalar, want);
        const all = Uint8Array.from(old); // ≥ 64 elements of w = 4 over aligned planes: the word-wise loop
        invertScalar(op, w, all, planes, start, 0, count);
        assert.deepEqual(all, want);
      },
    ),
  );
});

test('SIMD residual kernels (w = 1, 2, 4; x and s) agree with the scalar inverse, across chunk boundaries', { skip: !simdAvailable() && 'no WebAssembly SIMD' }, () => {
  const rnd = prng(9);
  for (const w of [1, 2, 4] as const) {
    for (const op of ['x', 's'] as const) {
      for (const count of [0, 15, 16, 17, 1000, CHUNK_ELEMS + 37]) {
        const start = Math.floor(rnd() * 9);
        const planes = Array.from({ length: w }, () => Uint8Array.from({ length: start + count }, () => Math.floor(rnd() * 256)));
        const old = Uint8Array.from({ length: count * w }, () => Math.floor(rnd() * 256));
        const want = inverseResidual(op, w, old, joinRun(w, { planes, start, count }));
        const out = Uint8Array.from(old);
        const done = invertSimd(op === 'x', w, out, planes, start, count);
        assert.equal(done, count - (count % 16));
        invertScalar(op, w, out, planes, start, done, count);
        assert.deepEqual(out, want, `w=${w} op=${op} count=${count}`);
      }
    }
  }
  // 8-byte elements (XOR only) take the scalar path
  const planes = Array.from({ length: 8 }, () => Uint8Array.from({ length: 40 }, () => Math.floor(rnd() * 256)));
  const old = Uint8Array.from({ length: 320 }, () => Math.floor(rnd() * 256));
  assert.deepEqual(inverseResidualRun('x', 8, old, { planes, start: 0, count: 40 }), inverseResidual('x', 8, old, joinRun(8, { planes, start: 0, count: 40 })));
});

test('tensor payload reproduces NEW and classifies tensors (copy, rename, delta, new)', async () => {
  const p = makeSafetensorsPair(7, 4);
  const { payload, stats } = encodeTensorPayload(p.old, p.nw, p.oldTensors, p.newTensors, { level: 3 });
  assert.deepEqual(await decode(payload, p.old, p.nw.length), p.nw);
  // embed.weight unchanged + renamed.head found by content hash
  assert.equal(stats.copied, 2 * 4000 * 4);
  assert.ok(stats.delta > 0, 'perturbed tensors coded as residuals');
  assert.equal(stats.added, 48 * 4);
  assert.ok(payload.length < p.nw.length * 0.45, `payload ${payload.length} of ${p.nw.length}`);
});

test('tensor payload round-trips random tensor layouts (property)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 0, max: 40 }), async (seed, k) => {
      const rnd = prng(seed);
      const size = 200 + Math.floor(rnd() * 3000);
      const old = Uint8Array.from({ length: size }, () => Math.floor(rnd() * 256));
      const nw = Uint8Array.from(old.subarray(0, Math.floor(rnd() * size)));
      const mk = (n: number): TensorInfo[] => {
        const ts: TensorInfo[] = [];
        for (let i = 0; i < k; i++) {
          const len = 4 * (1 + Math.floor(rnd() * 20));
          const off = Math.floor(rnd() * Math.max(1, n - len));
          ts.push({ name: `t${Math.floor(rnd() * k)}`, dtype: (['F32', 'F16', 'I8', 'F64', 'Q4_0'] as const)[i % 5], shape: [len], offset: off, length: len });
        }
        return ts;
      };
      for (let i = 0; i < nw.length; i++) if (rnd() < 0.1) nw[i] ^= 1 << Math.floor(rnd() * 8);
      const { payload } = encodeTensorPayload(old, nw, mk(old.length), mk(nw.length), { level: 1 });
      assert.deepEqual(await decode(payload, old, nw.length), nw);
    }),
    { numRuns: 60 },
  );
});

test('residual streams are cut in blocks of blockBytes (default ENCODE_BLOCK_RAW_BYTES); any size up to BLOCK_RAW_BYTES decodes', async () => {
  const g = gaussian(prng(11));
  const n = 300_000; // 1.2 MB of float32: three default blocks
  const old = new Uint8Array(new Float32Array(n).map(() => g() * 0.05).buffer);
  const nw = perturbF32(old, 1e-3, g);
  const t: TensorInfo[] = [{ name: 'w', dtype: 'F32', shape: [n], offset: 0, length: old.length }];
  const blocks = (payload: Uint8Array) => readTensorPlan(payload, old.length, nw.length, 'p').plan.blk.map(([, raw]) => raw);
  const byDefault = encodeTensorPayload(old, nw, t, t, { level: 1 }).payload;
  assert.deepEqual(blocks(byDefault), [ENCODE_BLOCK_RAW_BYTES, ENCODE_BLOCK_RAW_BYTES, old.length - 2 * ENCODE_BLOCK_RAW_BYTES]);
  assert.deepEqual(await decode(byDefault, old, nw.length), nw);
  // one block of the decoder's largest size (what encoders before 512 KiB blocks wrote), and tiny ones
  for (const blockBytes of [BLOCK_RAW_BYTES, 4096]) {
    const { payload } = encodeTensorPayload(old, nw, t, t, { level: 1, blockBytes });
    assert.equal(blocks(payload)[0], Math.min(blockBytes, old.length));
    assert.deepEqual(await decode(payload, old, nw.length), nw);
  }
  for (const blockBytes of [0, 12, BLOCK_RAW_BYTES + 8, 1.5]) {
    assert.throws(() => encodeTensorPayload(old, nw, t, t, { level: 1, blockBytes }), (e: unknown) => e instanceof McdnError && e.code === 'PATCH_BAD_BLOCK_SIZE', String(blockBytes));
  }
});

test('σ=1e-3 continued training on float32 costs about half the bits', async () => {
  const g = gaussian(prng(3));
  const n = 1 << 16;
  const f = new Float32Array(n).map(() => g() * 0.05);
  const old = new Uint8Array(f.buffer);
  const nw = perturbF32(old, 1e-3, g);
  const t: TensorInfo[] = [{ name: 'w', dtype: 'F32', shape: [n], offset: 0, length: old.length }];
  const { payload } = encodeTensorPayload(old, nw, t, t, { level: 19 });
  assert.ok(payload.length / nw.length < 0.52, `ratio ${(payload.length / nw.length).toFixed(3)}`);
  assert.deepEqual(await decode(payload, old, nw.length), nw);
});

test('a tensor re-encoded FP32 → FP16 (and back up to FP32) is predicted by the cast', async () => {
  const { f32ToF16, f16ToF32 } = await import('../formats/numeric.ts');
  const g = gaussian(prng(8));
  const n = 1 << 14;
  const f = new Float32Array(n).map(() => g() * 0.1);
  const old = new Uint8Array(f.buffer);
  const h = f32ToF16(f);
  h[5] ^= 1; // one element rounded differently
  const nw = new Uint8Array(h.buffer);
  const ot: TensorInfo[] = [{ name: 'w', dtype: 'F32', shape: [n], offset: 0, length: old.length }];
  const nt: TensorInfo[] = [{ name: 'w', dtype: 'F16', shape: [n], offset: 0, length: nw.length }];
  const { payload, stats } = encodeTensorPayload(old, nw, ot, nt, { level: 3 });
  assert.equal(stats.delta, nw.length);
  assert.ok(payload.length < 300, `cast patch ${payload.length} bytes`);
  assert.deepEqual(await decode(payload, old, nw.length), nw);
  // and the other way: FP16 → FP32 upcast
  const up = new Uint8Array(f16ToF32(h).buffer);
  const r2 = encodeTensorPayload(nw, up, nt, [{ ...ot[0] }], { level: 3 });
  assert.ok(r2.payload.length < 300, `upcast patch ${r2.payload.length} bytes`);
  assert.deepEqual(await decode(r2.payload, nw, up.length), up);
});

test('the fast decoder agrees with the slow reference decoder (spec order)', async () => {
  const { referenceDecodeTensorPayload } = await import('./reference.ts');
  for (const seed of [1, 2, 3]) {
    const p = makeSafetensorsPair(seed, 0.5, seed * 1e-3);
    const { payload } = encodeTensorPayload(p.old, p.nw, p.oldTensors, p.newTensors, { level: 1 });
    const ref = referenceDecodeTensorPayload(payload, p.old, p.nw.length);
    assert.deepEqual(ref, p.nw);
    assert.deepEqual(await decode(payload, p.old, p.nw.length), ref);
  }
});

test('refCollector gathers the ref ranges from OLD fed in chunks of any size; unsorted ranges get no collector', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 3000 }),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 200 })), { maxLength: 12 }),
      fc.integer({ min: 1, max: 700 }),
      (old, raw, chunk) => {
        const ref = raw.map(([o, l]) => [o % old.length, Math.min(l, old.length - (o % old.length))] as [number, number]).sort((a, b) => a[0] - b[0]);
        const plan = { v: 1 as const, ref, lit: [1, 1] as [number, number], seg: [], blk: [] };
        const want = Buffer.concat(ref.map(([o, l]) => old.subarray(o, o + l)));
        const c = refCollector(plan, new Uint8Array(want.length));
        assert.ok(c);
        for (let at = 0; at < old.length; at += chunk) c.feed(at, old.subarray(at, Math.min(old.length, at + chunk)));
        const got = c.done(old.length);
        assert.ok(got && got.from === 0);
        assert.deepEqual(Buffer.from(got.ref), want);
        // fed from a later chunk on: complete for the range bytes from there
        const start = Math.min(chunk, old.length - 1);
        const d = refCollector(plan, new Uint8Array(want.length))!;
        for (let at = start; at < old.length; at += chunk) d.feed(at, old.subarray(at, Math.min(old.length, at + chunk)));
        const late = d.done(old.length);
        assert.ok(late && late.from === start);
        let p = 0;
        for (const [o, l] of ref) {
          for (let k = Math.max(o, start); k < o + l; k++) assert.equal(late.ref[p + k - o], old[k]);
          p += l;
        }
        // a feed that skips a chunk or stops early is not complete
        const e = refCollector(plan, new Uint8Array(want.length))!;
        e.feed(0, old.subarray(0, 1));
        if (old.length > 2) {
          e.feed(2, old.subarray(2));
          assert.equal(e.done(old.length), undefined);
        }
        assert.equal(refCollector(plan, new Uint8Array(want.length))!.done(old.length), undefined);
      },
    ),
  );
  const unsorted = { v: 1 as const, ref: [[10, 2], [0, 2]] as [number, number][], lit: [1, 1] as [number, number], seg: [], blk: [] };
  assert.equal(refCollector(unsorted, new Uint8Array(4)), undefined);
});

test('decoding with ref bytes gathered from any point of OLD on reads only the rest by range', async () => {
  // container bytes between and around two F32 tensors: [hdr 300][t1 4000][gap 500][t2 4000][tail 200]
  const rnd = prng(12);
  const layout: TensorInfo[] = [
    { name: 'a', dtype: 'F32', shape: [1000], offset: 300, length: 4000 },
    { name: 'b', dtype: 'F32', shape: [1000], offset: 4800, length: 4000 },
  ];
  const oldB = Uint8Array.from({ length: 9000 }, (_, i) => (i < 300 || (i >= 4300 && i < 4800) || i >= 8800 ? i % 7 : Math.floor(rnd() * 256)));
  const nwB = Uint8Array.from(oldB);
  for (let i = 300; i < 8800; i += 4) nwB[i] ^= 1; // low bytes of the tensors' elements
  nwB[10] ^= 0x55; // and a little of the container bytes
  nwB[4400] ^= 0x55;
  const p = { old: oldB, nw: nwB };
  const { payload } = encodeTensorPayload(p.old, p.nw, layout, layout, { level: 3 });
  const { plan, dataOffset } = readTensorPlan(payload, p.old.length, p.nw.length, 'test');
  assert.ok(plan.lit[0] > 0 && plan.ref.length > 1, 'the pair has container bytes to reference');
  let refLen = 0;
  for (const [, l] of plan.ref) refLen += l;
  for (const start of [0, 1, plan.ref[1][0] + 1, p.old.length - 1]) {
    const c = refCollector(plan, new Uint8Array(refLen))!;
    for (let at = start; at < p.old.length; at += 999) c.feed(at, p.old.subarray(at, Math.min(p.old.length, at + 999)));
    const parts: Uint8Array[] = [];
    await decodeTensorPayload(payload, bytesSource(p.old), p.nw.length, (x) => void parts.push(Uint8Array.from(x)), 'test', { prepared: { plan, dataOffset, ref: c.done(p.old.length)! } });
    assert.deepEqual(new Uint8Array(Buffer.concat(parts)), p.nw, `gathered from ${start}`);
  }
});
