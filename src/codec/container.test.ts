import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { McdnError } from '../errors.ts';
import { packBytes } from './pack.ts';
import { unpackBytes, createUnpackStream, MczParser, extractTensor } from './unpack.ts';
import { crc32 } from 'node:zlib';
import { decodeHeader, encodeHeader, encodeHeaderV2, encodeLayout, encodeLayoutV2, MCZ_PREAMBLE_BYTES, readHeaderLength, type MczLayout } from './format.ts';
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

test('version-2 golden vectors decode (all eight methods; one chunk without chunk sha256 or layout block)', async () => {
  for (const [name, methods] of [['mixed.v2', [2, 3, 1, 0, 4, 5, 6, 7]], ['mixed.v2.single', [6]]] as const) {
    const mcz = new Uint8Array(readFileSync(VECTORS_DIR + name + '.mcz'));
    const expected = new Uint8Array(readFileSync(VECTORS_DIR + name + '.bin'));
    const meta = JSON.parse(readFileSync(VECTORS_DIR + name + '.json', 'utf8')) as { sha256: string; headerLength: number };
    const h = decodeHeader(mcz);
    assert.equal(h.version, 2);
    assert.equal(h.headerLength, meta.headerLength);
    assert.deepEqual(h.chunks.map((c) => c.method), methods);
    assert.equal(h.sha256, meta.sha256);
    assert.deepEqual(unpackBytes(mcz), expected);
    assert.deepEqual(new Uint8Array(Buffer.concat(await createUnpackStream({ pool: false }).end(mcz).toArray())), expected);
  }
  const single = decodeHeader(new Uint8Array(readFileSync(VECTORS_DIR + 'mixed.v2.single.mcz')));
  assert.equal(single.chunks[0]!.sha256, single.sha256); // a file's only chunk carries the file's sha256
  assert.deepEqual(single.layout, { format: 'tfjs', tensors: [] });
  assert.ok(single.headerLength <= 80, `${single.headerLength}`);
  assert.deepEqual(await extractTensor(VECTORS_DIR + 'mixed.v2.mcz', 't1'), new Uint8Array(readFileSync(VECTORS_DIR + 'mixed.v2.bin')).subarray(1060, 1060 + 256));
});

test('the packer writes version 2; v1 and v2 headers of the same chunks decode to the same header fields', () => {
  const { bytes, layout } = buildModel([[{ gap: 40, count: 3000, width: 4, zeros: false }, { gap: 9, count: 70_000, width: 1, zeros: false }], 3, new Uint8Array(10)]);
  const mcz = packBytes(bytes, layout);
  const h2 = decodeHeader(mcz);
  assert.equal(h2.version, 2);
  const v1 = encodeHeader(h2, encodeLayout(h2.layout), new TextEncoder().encode(JSON.stringify(h2.layout)).byteLength);
  const asV1 = new Uint8Array([...v1, ...mcz.subarray(h2.headerLength)]);
  const h1 = decodeHeader(asV1);
  assert.equal(h1.version, 1);
  assert.deepEqual({ ...h1, version: 0, headerLength: 0 }, { ...h2, version: 0, headerLength: 0 });
  assert.ok(h2.headerLength < h1.headerLength);
  assert.deepEqual(unpackBytes(asV1), bytes);
  // no tensors: the layout section is just the format name; a one-chunk file has no chunk sha256
  const small = packBytes(new TextEncoder().encode('{"a":1}'.repeat(20)));
  const hs = decodeHeader(small);
  assert.equal(hs.headerLength, 16 + 2 + 32 + 1 + (2 + 4 + 1 + 1 + 4) + (1 + 1 + 'unknown'.length) + 4); // 140 bytes: 2-byte varints
});

/**
 * A version-2 file from a header `body` with a valid length and CRC (so the checks behind the CRC
 * are reached): the 12 preamble bytes of `like`, then the body, its CRC and `payload`.
 */
function sealV2(like: Uint8Array, body: ArrayLike<number>, payload: Uint8Array): Uint8Array {
  const len = 16 + body.length + 4;
  const b = new Uint8Array(len);
  b.set(like.subarray(0, 12));
  new DataView(b.buffer).setUint32(12, len, true);
  b.set(body, 16);
  new DataView(b.buffer).setUint32(len - 4, crc32(b.subarray(0, len - 4)) >>> 0, true);
  return new Uint8Array([...b, ...payload]);
}

test('version-2 header checks have their own codes (CRC, bounds, counts, layout kind)', () => {
  const raw = new TextEncoder().encode('hello hello hello hello');
  const mcz = packBytes(raw);
  const h = decodeHeader(mcz);
  const payload = mcz.subarray(h.headerLength);
  const code = (b: Uint8Array) => {
    try {
      unpackBytes(b);
      return 'ok';
    } catch (e) {
      assert.ok(e instanceof McdnError, String(e));
      return e.code;
    }
  };
  const forge = (body: number[]) => sealV2(mcz, body, payload);
  const sha = [...Buffer.from(h.sha256, 'hex')];
  const entry = [raw.length, payload.length, 0, 0, 0, h.chunks[0]!.method, 1, ...[0, 1, 2, 3].map((i) => (h.chunks[0]!.crc32 >>> (8 * i)) & 0xff)];
  const fmt = [0, 7, ...new TextEncoder().encode('unknown')];
  assert.equal(code(forge([raw.length, ...sha, 1, ...entry, ...fmt])), 'ok');
  assert.equal(code(forge([raw.length, ...sha, 100, ...entry, ...fmt])), 'MCZ_BAD_CHUNK_TABLE'); // count the header cannot hold
  assert.equal(code(forge([raw.length, ...sha, 1, ...entry, 9, 0, 0])), 'MCZ_BAD_LAYOUT'); // unknown layout kind
  assert.equal(code(forge([raw.length, ...sha, 1, ...entry, ...fmt, 0])), 'MCZ_BAD_CHUNK_TABLE'); // unexplained bytes
  assert.equal(code(forge([raw.length, ...sha, 1, ...entry])), 'MCZ_BAD_CHUNK_TABLE'); // ends inside the layout
  assert.equal(code(forge([raw.length + 1, ...sha, 1, ...entry, ...fmt])), 'MCZ_BAD_CHUNK_TABLE'); // chunks do not cover the file
  assert.equal(code(forge([raw.length, ...sha, 1, ...entry.map((x, i) => (i === 5 ? 8 : x)), ...fmt])), 'MCZ_BAD_METHOD');
  assert.equal(code(forge([raw.length, ...sha, 1, ...entry.map((x, i) => (i === 6 ? 17 : x)), ...fmt])), 'MCZ_BAD_WIDTH');
  assert.equal(code(forge([raw.length, ...sha, 1, ...entry, 0, 2, 0xff, 0xfe])), 'MCZ_BAD_LAYOUT'); // format name not UTF-8
  assert.equal(code(forge([raw.length, ...sha, 1, ...entry, 1, 5, 100, 1, 2, 3, 4, 5])), 'MCZ_BAD_LAYOUT'); // garbage zstd block
  assert.equal(code(forge([raw.length, ...sha, 1, ...entry, 2, 5, 100, 1, 2, 3, 4, 5])), 'MCZ_BAD_LAYOUT'); // garbage brotli block
  const bad = mcz.slice();
  bad[h.headerLength - 1] ^= 0x10;
  assert.equal(code(bad), 'MCZ_HEADER_CORRUPT');
  // a v2 layout block with tensors can be brotli or zstd, whichever is smaller; both decode
  const layout: MczLayout = { format: 'safetensors', tensors: [{ name: 'w', dtype: 'U8', shape: [raw.length], offset: 0, length: raw.length, width: 1 }] };
  const sec = encodeLayoutV2(layout);
  assert.ok(sec[0] === 1 || sec[0] === 2);
  const withLayout = new Uint8Array([...encodeHeaderV2(h, sec), ...payload]);
  assert.deepEqual(decodeHeader(withLayout).layout, layout);
});

test('fuzz: random version-2 header bodies with a valid CRC throw McdnError, never another exception', () => {
  const good = packBytes(new TextEncoder().encode('fuzz me '.repeat(50)));
  const h = decodeHeader(good);
  const body = good.subarray(16, h.headerLength - 4);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(body.length), fc.nat(255), fc.boolean(), (junk, at, x, mutate) => {
      // either a mutated real body (mostly well-formed) or pure junk, sealed with a correct CRC
      const b2 = mutate ? body.slice() : junk;
      if (mutate && at < b2.length) b2[at] ^= x;
      const file = sealV2(good, b2, good.subarray(h.headerLength));
      try {
        unpackBytes(file);
      } catch (e) {
        assert.ok(e instanceof McdnError, String(e));
      }
    }),
    { numRuns: 400 },
  );
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
  assert.equal(code(with_(8, 3)), 'MCZ_UNSUPPORTED_VERSION');
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
