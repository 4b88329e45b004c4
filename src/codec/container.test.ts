import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { McdnError } from '../errors.ts';
import { packBytes } from './pack.ts';
import { unpackBytes, createUnpackStream, MczParser, extractTensor } from './unpack.ts';
import { decodeHeader, MCZ_PREAMBLE_BYTES, readHeaderLength, type MczLayout } from './format.ts';
import { planChunks, OWN_CHUNK_MIN_BYTES } from './plan.ts';
import { MAX_CHUNK_BYTES } from './chunk.ts';
import { syntheticWeights } from './synth.ts';
import { VECTORS_DIR } from './golden.ts';

/** A random "model": container bytes and FP32/FP16/U8 tensors at random places. */
const modelArb = fc
  .array(fc.record({ gap: fc.integer({ min: 0, max: 300 }), count: fc.integer({ min: 1, max: 400 }), width: fc.constantFrom(1, 2, 4), zeros: fc.boolean() }), { maxLength: 6 })
  .chain((specs) => fc.tuple(fc.constant(specs), fc.integer({ min: 1, max: 1e6 }), fc.uint8Array({ maxLength: 200 })));

function buildModel([specs, seed, trailer]: [{ gap: number; count: number; width: number; zeros: boolean }[], number, Uint8Array]): { bytes: Uint8Array; layout: MczLayout } {
  const parts: Uint8Array[] = [];
  const layout: MczLayout = { format: 'unknown', tensors: [] };
  let off = 0;
  specs.forEach((s, i) => {
    const gap = new TextEncoder().encode('g'.repeat(s.gap));
    parts.push(gap);
    off += gap.byteLength;
    const w = syntheticWeights(Math.ceil((s.count * s.width) / 4), seed + i, 0.1, s.zeros ? 0.8 : 0).subarray(0, s.count * s.width);
    parts.push(w);
    layout.tensors.push({ name: `t${i}`, dtype: s.width === 4 ? 'F32' : s.width === 2 ? 'F16' : 'U8', shape: [s.count], offset: off, length: w.byteLength, width: s.width });
    off += w.byteLength;
  });
  parts.push(trailer);
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.byteLength;
  }
  return { bytes, layout };
}

test('golden vector decodes to its expected bytes (reference and streaming decoder)', async () => {
  const mcz = new Uint8Array(readFileSync(VECTORS_DIR + 'mixed.mcz'));
  const expected = new Uint8Array(readFileSync(VECTORS_DIR + 'mixed.bin'));
  const meta = JSON.parse(readFileSync(VECTORS_DIR + 'mixed.json', 'utf8')) as { sha256: string; chunks: { method: string }[] };
  assert.deepEqual(unpackBytes(mcz), expected);
  assert.equal(createHash('sha256').update(expected).digest('hex'), meta.sha256);
  assert.deepEqual(decodeHeader(mcz).chunks.map((c) => c.method), [2, 3, 1, 0, 4, 5]);
  assert.deepEqual(meta.chunks.map((c) => c.method), ['planes', 'sparse', 'zstd', 'stored', 'ref', 'brotli']);
  const streamed = Buffer.concat(await createUnpackStream({ pool: false }).end(mcz).toArray());
  assert.deepEqual(new Uint8Array(streamed), expected);
  const t1 = await extractTensor(VECTORS_DIR + 'mixed.mcz', 't1');
  assert.deepEqual(t1, expected.subarray(1060, 1060 + 256));
  assert.deepEqual(await extractTensor(VECTORS_DIR + 'mixed.mcz', 'pruned_copy'), await extractTensor(VECTORS_DIR + 'mixed.mcz', 'pruned'));
});

test('pack → unpack is byte-identical for random models and layouts', () => {
  fc.assert(
    fc.property(modelArb, fc.integer({ min: 1, max: 6 }), (m, level) => {
      const { bytes, layout } = buildModel(m);
      const mcz = packBytes(bytes, layout, level);
      assert.deepEqual(unpackBytes(mcz), bytes);
    }),
    { numRuns: 60 },
  );
});

test('the streaming decoder fed random-sized pieces emits the original bytes', async () => {
  await fc.assert(
    fc.asyncProperty(modelArb, fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }), async (m, sizes) => {
      const { bytes, layout } = buildModel(m);
      const mcz = packBytes(bytes, layout);
      const pieces: Uint8Array[] = [];
      for (let o = 0, i = 0; o < mcz.byteLength; i++) {
        const n = sizes[i % sizes.length]!;
        pieces.push(mcz.subarray(o, o + n));
        o += n;
      }
      const out = Buffer.concat(await Readable.from(pieces).pipe(createUnpackStream({ pool: false })).toArray());
      assert.deepEqual(new Uint8Array(out), bytes);
    }),
    { numRuns: 30 },
  );
});

test('every flipped byte and every truncation of a packed file throws McdnError', () => {
  const { bytes, layout } = buildModel([[{ gap: 40, count: 3000, width: 4, zeros: false }, { gap: 9, count: 2000, width: 4, zeros: true }, { gap: 100, count: 500, width: 2, zeros: false }], 5, new Uint8Array(50)]);
  const mcz = packBytes(bytes, layout);
  for (let at = 0; at < mcz.byteLength; at += Math.max(1, Math.floor(mcz.byteLength / 400))) {
    const bad = mcz.slice();
    bad[at] ^= 1 << at % 8;
    assert.throws(() => unpackBytes(bad), McdnError, `flip at ${at}`);
  }
  for (let cut = 0; cut < mcz.byteLength; cut += 97) {
    assert.throws(() => unpackBytes(mcz.subarray(0, cut)), McdnError, `cut at ${cut}`);
    const p = new MczParser();
    p.push(mcz.subarray(0, cut));
    assert.throws(() => {
      while (p.next());
      p.finish();
    }, McdnError);
  }
  assert.throws(() => unpackBytes(new Uint8Array([...mcz, 0])), (e: unknown) => e instanceof McdnError && e.code === 'MCZ_TRAILING_DATA');
});

test('header checks have their own codes', () => {
  const mcz = packBytes(new TextEncoder().encode('hello hello hello hello'));
  const code = (b: Uint8Array) => {
    try {
      unpackBytes(b);
      return 'ok';
    } catch (e) {
      assert.ok(e instanceof McdnError);
      return e.code;
    }
  };
  const with_ = (at: number, v: number) => {
    const b = mcz.slice();
    b[at] = v;
    return b;
  };
  assert.equal(code(mcz), 'ok');
  assert.equal(code(with_(1, 0)), 'MCZ_BAD_MAGIC');
  assert.equal(code(with_(8, 2)), 'MCZ_UNSUPPORTED_VERSION');
  assert.equal(code(with_(10, 1)), 'MCZ_BAD_FLAGS');
  assert.equal(code(with_(15, 0x7f)), 'MCZ_HEADER_TOO_LARGE');
  assert.equal(code(with_(40, mcz[40]! ^ 1)), 'MCZ_HEADER_CORRUPT');
  assert.equal(code(mcz.subarray(0, 10)), 'MCZ_TRUNCATED');
  assert.equal(code(with_(mcz.length - 1, mcz[mcz.length - 1]! ^ 4)), 'MCZ_CHUNK_CHECKSUM_MISMATCH');
  assert.equal(readHeaderLength(mcz.subarray(0, MCZ_PREAMBLE_BYTES)), decodeHeader(mcz).headerLength);
  // empty file: header only
  assert.deepEqual(unpackBytes(packBytes(new Uint8Array(0))), new Uint8Array(0));
});

test('planner: chunks ≤ 4 MiB, contiguous, big tensors cut from their own start', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ gap: fc.nat(200_000), len: fc.integer({ min: 1, max: 9_000_000 }), width: fc.constantFrom(1, 2, 4, 8) }), { maxLength: 8 }),
      fc.nat(100_000),
      (ts, tail) => {
        let off = 0;
        const tensors = ts.map((t) => {
          off += t.gap;
          const r = { offset: off, length: t.len - (t.len % t.width) || t.width, width: t.width };
          off += r.length;
          return r;
        });
        const size = off + tail;
        const plan = planChunks(size, tensors);
        let pos = 0;
        for (const c of plan) {
          assert.equal(c.offset, pos);
          assert.ok(c.length >= 1 && c.length <= MAX_CHUNK_BYTES);
          pos += c.length;
        }
        assert.equal(pos, size);
        for (const t of tensors) {
          if (t.length < OWN_CHUNK_MIN_BYTES) continue;
          const starts = plan.filter((c) => c.offset >= t.offset && c.offset < t.offset + t.length).map((c) => c.offset - t.offset);
          const piece = Math.floor(MAX_CHUNK_BYTES / t.width) * t.width;
          assert.deepEqual(starts, Array.from({ length: Math.ceil(t.length / piece) }, (_, i) => i * piece));
        }
      },
    ),
  );
});

test('duplicate tensors become REF chunks and decode in every decoder', async () => {
  const t = syntheticWeights(40_000, 21); // 160 kB: own chunk
  const gap = new TextEncoder().encode('sep');
  const bytes = new Uint8Array(3 * t.byteLength + 2 * gap.byteLength);
  const layout: MczLayout = { format: 'unknown', tensors: [] };
  for (let i = 0, o = 0; i < 3; i++) {
    bytes.set(t, o);
    layout.tensors.push({ name: `copy${i}`, dtype: 'F32', shape: [40_000], offset: o, length: t.byteLength, width: 4 });
    o += t.byteLength;
    if (i < 2) bytes.set(gap, o), (o += gap.byteLength);
  }
  const mcz = packBytes(bytes, layout);
  const h = decodeHeader(mcz);
  assert.deepEqual(h.chunks.filter((c) => c.method === 4).map((c) => c.ref), [0, 1, 0]); // tensors → chunk 0, 2nd separator → chunk 1
  assert.ok(mcz.byteLength < t.byteLength, `${mcz.byteLength}`);
  assert.deepEqual(unpackBytes(mcz), bytes);
  const pieces = [mcz.subarray(0, 1000), mcz.subarray(1000, 1001), mcz.subarray(1001)];
  assert.deepEqual(new Uint8Array(Buffer.concat(await Readable.from(pieces).pipe(createUnpackStream({ pool: false })).toArray())), bytes);
});

test('fuzz: random bytes after a valid preamble never crash the parsers with a non-McdnError', () => {
  const good = packBytes(new TextEncoder().encode('fuzz me '.repeat(50)));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (junk, keepPreamble) => {
      const b = keepPreamble ? new Uint8Array([...good.subarray(0, 16), ...junk]) : junk;
      try {
        unpackBytes(b);
      } catch (e) {
        assert.ok(e instanceof McdnError, String(e));
      }
      const p = new MczParser();
      p.push(b);
      try {
        while (p.next());
        p.finish();
      } catch (e) {
        assert.ok(e instanceof McdnError, String(e));
      }
    }),
    { numRuns: 300 },
  );
});
