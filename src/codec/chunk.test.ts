import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { encodeChunk, decodeChunk, looksLikeText, transpose, untranspose, SMALL_BROTLI_MAX_BYTES, METHOD_BROTLI, METHOD_COLUMNS, METHOD_PLANES, METHOD_SPARSE, METHOD_STORED, METHOD_TEXT, METHOD_ZSTD, type ChunkRange, type EncodeChunkOptions } from './chunk.ts';
import { McdnError } from '../errors.ts';
import { syntheticWeights } from './synth.ts';

const fakeWeights = (count: number, seed = 1) => syntheticWeights(count, seed);

const rangesArb = (len: number) =>
  fc.array(fc.tuple(fc.nat(len), fc.nat(len)), { maxLength: 6 }).map((pairs) => {
    const cuts = [...new Set(pairs.flat())].sort((a, b) => a - b);
    const out: ChunkRange[] = [];
    for (let i = 0; i + 1 < cuts.length; i += 2) if (cuts[i + 1]! > cuts[i]!) out.push({ start: cuts[i]!, length: cuts[i + 1]! - cuts[i]! });
    return out;
  });

test('encode/decode round trip for random bytes, widths and ranges', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600 }).chain((b) => fc.tuple(fc.constant(b), fc.integer({ min: 1, max: 8 }), fc.option(rangesArb(b.length)), fc.boolean())),
      ([bytes, width, ranges, zeroish]) => {
        const raw = zeroish ? bytes.map((x, i) => (i % 5 === 0 ? x : 0)) : bytes;
        const enc = encodeChunk(raw, { width, ...(ranges && ranges.length ? { ranges } : {}), probeWidths: [4, 2] });
        assert.ok(enc.payload.length <= raw.length);
        assert.deepEqual(decodeChunk(enc.payload, enc.method, enc.width, raw.length), raw);
      },
    ),
    { numRuns: 300 },
  );
});

test('FP32 weights pick byte planes and beat plain zstd', () => {
  const raw = fakeWeights(100_000);
  const enc = encodeChunk(raw, { width: 4 });
  assert.equal(enc.method, METHOD_PLANES);
  const plain = encodeChunk(raw, { width: 1 });
  assert.equal(plain.method, METHOD_ZSTD);
  assert.ok(enc.payload.length < plain.payload.length * 0.97, `${enc.payload.length} vs ${plain.payload.length}`);
  assert.deepEqual(decodeChunk(enc.payload, enc.method, enc.width, raw.length), raw);
});

test('pruned weights (80 % zeros) pick the sparse mode', () => {
  const raw = fakeWeights(50_000, 7);
  const f = new Float32Array(raw.buffer);
  for (let i = 0; i < f.length; i++) if ((i * 7919) % 10 < 8) f[i] = 0;
  const enc = encodeChunk(raw, { width: 4 });
  assert.equal(enc.method, METHOD_SPARSE);
  const planes = encodeChunk(raw, { width: 4, level: 3 });
  assert.ok(planes.payload.length <= enc.payload.length);
  assert.deepEqual(decodeChunk(enc.payload, enc.method, enc.width, raw.length), raw);
});

test('incompressible bytes are stored; layout-less float data is probed to planes', () => {
  const rnd = new Uint8Array(randomBytes(10_000));
  assert.equal(encodeChunk(rnd, { width: 4 }).method, METHOD_STORED);
  const w = encodeChunk(fakeWeights(60_000, 3), { probeWidths: [4, 2] });
  assert.equal(w.method, METHOD_PLANES);
  assert.equal(w.width, 4);
});

test('corrupt payloads throw McdnError, never another exception', () => {
  const raw = fakeWeights(5000, 9);
  const f = new Float32Array(raw.buffer);
  for (let i = 0; i < f.length; i += 2) f[i] = 0;
  const variants: EncodeChunkOptions[] = [{ width: 4 }, { width: 4, ranges: [{ start: 8, length: 4000 }] }, { width: 1 }, { force: METHOD_BROTLI }, { force: METHOD_TEXT }, { force: METHOD_COLUMNS, strides: [40] }];
  for (const opts of variants) {
    const enc = encodeChunk(raw, opts);
    fc.assert(
      fc.property(fc.nat(enc.payload.length - 1), fc.integer({ min: 1, max: 255 }), fc.nat(enc.payload.length), (at, x, cut) => {
        const bad = enc.payload.slice(0, Math.max(cut, at + 1));
        bad[at] ^= x;
        try {
          const out = decodeChunk(bad, enc.method, enc.width, raw.length);
          assert.equal(out.length, raw.length); // a flip may survive decoding; the sha256 check above catches it
        } catch (e) {
          assert.ok(e instanceof McdnError, String(e));
        }
      }),
      { numRuns: 200 },
    );
  }
  assert.throws(() => decodeChunk(new Uint8Array(3), 9, 1, 3), McdnError);
  assert.throws(() => decodeChunk(new Uint8Array(3), METHOD_STORED, 1, 4), McdnError);
});

test('boost max adds a brotli candidate for compressible chunks and keeps the smaller', () => {
  const text = new TextEncoder().encode(JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ name: `layer_${i}/weights`, shape: [3, 3, i % 64, 32], dtype: 'float32' }))));
  const fast = encodeChunk(text, { boost: 'off' });
  const max = encodeChunk(text, { boost: 'max' });
  assert.ok(max.payload.length <= fast.payload.length);
  assert.equal(max.method, METHOD_BROTLI);
  assert.deepEqual(decodeChunk(max.payload, max.method, max.width, text.length), text);
  assert.throws(() => decodeChunk(max.payload, max.method, max.width, text.length - 1), McdnError);
});

test('boost zstd tries brotli and text streams only on small chunks without tensors, never on tensor or large chunks', () => {
  const text = new TextEncoder().encode(JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ name: `layer_${i}/weights`, shape: [3, 3, i % 64, 32], dtype: 'float32', scale: (i * 0.37) % 1 }))));
  const nonTensor = { boost: 'zstd' as const, probeWidths: [4, 2] };
  const small = encodeChunk(text, nonTensor);
  assert.equal(small.method, METHOD_TEXT); // JSON: the split streams beat plain brotli
  assert.ok(small.payload.length < encodeChunk(text, { force: METHOD_BROTLI }).payload.length);
  assert.deepEqual(decodeChunk(small.payload, small.method, small.width, text.length), text);
  // a width-1 tensor chunk (no probe) keeps zstd with boost 'zstd'
  assert.ok(![METHOD_BROTLI, METHOD_TEXT, METHOD_COLUMNS].includes(encodeChunk(text, { boost: 'zstd', width: 1 }).method as never));
  // above SMALL_BROTLI_MAX_BYTES: zstd only
  const big = new Uint8Array(SMALL_BROTLI_MAX_BYTES + 1);
  for (let o = 0; o < big.length; o += text.length) big.set(text.subarray(0, Math.min(text.length, big.length - o)), o);
  assert.ok(![METHOD_BROTLI, METHOD_TEXT].includes(encodeChunk(big, nonTensor).method as never));
});

/** uint8-quantized "weights": a bell-shaped value per column of a rows × cols matrix, each column its own scale */
function quantized(rows: number, cols: number, seed = 1): Uint8Array {
  let x = seed >>> 0;
  const rnd = () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const out = new Uint8Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let k = 0; k < cols; k++) {
      const spread = 4 + (k % 7) * 9; // per-column spread: columns differ, rows within a column alike
      const g = (rnd() + rnd() + rnd() - 1.5) * spread;
      out[i * cols + k] = Math.max(0, Math.min(255, Math.round(128 + g)));
    }
  }
  return out;
}

test('boost brotli: text chunks without tensors above 256 KiB (a big model.json) also get TEXT/BROTLI; binary ones do not', () => {
  const json = new TextEncoder().encode(JSON.stringify({ nodes: Array.from({ length: 2700 }, (_, i) => ({ name: `block_${i >> 4}/conv_${i & 15}/Conv2D`, op: i % 3 ? 'Conv2D' : 'Relu6', input: [`block_${(i >> 4) - 1}/out`, `w${i}`], attr: { strides: [1, 1 + (i % 2), 1 + (i % 2), 1], padding: 'SAME' } })) }));
  assert.ok(json.length > SMALL_BROTLI_MAX_BYTES && looksLikeText(json));
  const enc = encodeChunk(json, { boost: 'brotli', probeWidths: [4, 2] });
  assert.ok(enc.method === METHOD_TEXT || enc.method === METHOD_BROTLI, `method ${enc.method}`);
  assert.ok(enc.payload.length < encodeChunk(json, { boost: 'zstd', probeWidths: [4, 2] }).payload.length);
  assert.deepEqual(decodeChunk(enc.payload, enc.method, enc.width, json.length), json);
  const bin = new Uint8Array(SMALL_BROTLI_MAX_BYTES + 10).map((_, i) => (i % 7 === 0 ? 0 : i % 50));
  assert.equal(looksLikeText(bin), false);
  assert.ok(![METHOD_TEXT, METHOD_BROTLI].includes(encodeChunk(bin, { boost: 'brotli', probeWidths: [4, 2] }).method as never));
});

test('boost brotli: 8-bit tensor chunks get a brotli candidate and, with a row length, COLUMNS', () => {
  const raw = quantized(600, 64);
  const zstd = encodeChunk(raw, { boost: 'zstd', width: 1 });
  const plain = encodeChunk(raw, { boost: 'brotli', width: 1 });
  assert.equal(plain.method, METHOD_BROTLI);
  assert.ok(plain.payload.length < zstd.payload.length, `${plain.payload.length} vs zstd ${zstd.payload.length}`);
  const cols = encodeChunk(raw, { boost: 'brotli', width: 1, strides: [64, 3] });
  assert.equal(cols.method, METHOD_COLUMNS);
  assert.ok(cols.payload.length < plain.payload.length, `${cols.payload.length} vs brotli ${plain.payload.length}`);
  assert.deepEqual(decodeChunk(cols.payload, cols.method, cols.width, raw.length), raw);
  // chunks without tensors, or noise, get none of it
  assert.ok(![METHOD_BROTLI, METHOD_COLUMNS].includes(encodeChunk(raw, { boost: 'brotli', probeWidths: [4, 2] }).method as never));
  assert.equal(encodeChunk(new Uint8Array(randomBytes(20_000)), { boost: 'brotli', width: 1, strides: [100] }).method, METHOD_STORED);
});

test('transpose/untranspose round-trip for any stride, with a tail; COLUMNS rejects bad strides', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.integer({ min: 1, max: 320 }), (b, stride) => {
      assert.deepEqual(untranspose(transpose(b, stride), stride), b);
    }),
  );
  assert.deepEqual(transpose(Uint8Array.of(1, 2, 3, 4, 5, 6, 7), 3), Uint8Array.of(1, 4, 2, 5, 3, 6, 7));
  const raw = quantized(50, 10);
  const enc = encodeChunk(raw, { force: METHOD_COLUMNS, strides: [10] });
  assert.equal(enc.method, METHOD_COLUMNS);
  assert.deepEqual(decodeChunk(enc.payload, METHOD_COLUMNS, 1, raw.length), raw);
  for (const stride of [0, 1, raw.length + 1]) {
    const forged = Uint8Array.from([...[stride & 0x7f | (stride > 127 ? 0x80 : 0), ...(stride > 127 ? [stride >> 7] : [])], ...enc.payload.subarray(1)]);
    assert.throws(() => decodeChunk(forged, METHOD_COLUMNS, 1, raw.length), (e: unknown) => e instanceof McdnError && e.code === 'MCZ_CHUNK_CORRUPT');
  }
});
