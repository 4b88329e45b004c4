import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CDC_MAX, CDC_MIN, GEAR, cdcLengths, cdcLengthsStream } from './cdc.ts';
import { planSpans, TENSOR_CHUNK_BYTES } from './plan.ts';
import { ChunkMethod, decodeChunkPayload, decodeXorb, decodeXorbIndex, encodeChunkPayload, encodeXorb } from './xorb.ts';
import { CHUNK_MANIFEST_SCHEMA, parseChunkManifest, serializeChunkManifest, type ChunkManifest } from './manifest.ts';
import { coalesceRanges } from './fetch.ts';
import { McdnError } from '../../errors.ts';
import { sha256Hex } from '../../util/hash.ts';

const isMcdn = (code?: string) => (e: unknown) => e instanceof McdnError && (code === undefined || e.code === code);

describe('content-defined chunking', () => {
  it('matches the spec test vectors (gear table)', () => {
    assert.deepEqual(Array.from(GEAR.slice(0, 4), (x) => (x >>> 0).toString(16)), ['acca74e0', 'dcd600eb', '7db6d003', '4fa34e22']);
  });

  it('cuts within bounds and covers the input exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 600_000 }), fc.integer(), (n, seed) => {
        const b = new Uint8Array(n);
        let x = seed | 1;
        for (let i = 0; i < n; i++) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          b[i] = x & 0xff;
        }
        const l = cdcLengths(b);
        assert.equal(l.reduce((s, v) => s + v, 0), n);
        l.slice(0, -1).forEach((v) => assert.ok(v >= CDC_MIN && v <= CDC_MAX));
      }),
      { numRuns: 25 },
    );
  });

  it('resynchronises after an insertion (content-defined boundaries)', () => {
    const a = randomBytes(2_000_000);
    const b = Buffer.concat([randomBytes(1000), a]);
    const cutsA = new Set<number>();
    let p = 0;
    for (const n of cdcLengths(a)) cutsA.add((p += n));
    let q = -1000;
    let shared = 0;
    const lb = cdcLengths(b);
    for (const n of lb) if (cutsA.has((q += n))) shared++;
    assert.ok(shared >= lb.length - 3, `${shared} of ${lb.length} boundaries shared`);
  });

  it('the streaming chunker gives the same cuts as the in-memory one', async () => {
    const a = randomBytes(3_000_000);
    const streamed: number[] = [];
    for await (const n of cdcLengthsStream(a.length, async (o, l) => a.subarray(o, o + l), { blockSize: 300_000 })) streamed.push(n);
    assert.deepEqual(streamed, cdcLengths(a));
  });
});

describe('tensor-aligned planning', () => {
  it('cuts at tensor boundaries, fixed-size inside tensors from the tensor start, CDC in gaps', async () => {
    const size = 1_000_000;
    const bytes = randomBytes(size);
    const tensors = [
      { offset: 1000, length: 200_000, width: 4 },
      { offset: 300_000, length: 10, width: 2 },
    ];
    const spans = await planSpans(size, tensors, async (o, l) => bytes.subarray(o, o + l));
    assert.equal(spans.reduce((s, x) => s + x.length, 0), size);
    for (let i = 1; i < spans.length; i++) assert.equal(spans[i]!.start, spans[i - 1]!.start + spans[i - 1]!.length);
    const t0 = spans.filter((s) => s.tensor && s.start >= 1000 && s.start < 201_000);
    assert.equal(t0[0]!.start, 1000);
    assert.equal(t0.length, Math.ceil(200_000 / TENSOR_CHUNK_BYTES));
    assert.ok(t0.every((s) => s.width === 4));
    assert.ok(spans.some((s) => s.start === 300_000 && s.length === 10 && s.tensor));
    assert.ok(spans.some((s) => s.start === 0 && !s.tensor));
  });
});

describe('xorb container', () => {
  it('round-trips chunks and picks the smallest encoding', () => {
    const f32 = new Float32Array(16384).map(() => Math.random() * 0.01);
    const chunks = [new Uint8Array(f32.buffer), new Uint8Array(50_000), randomBytes(1000)].map((raw, i) => {
      const enc = encodeChunkPayload(raw, i === 0 ? 4 : 1);
      return { hash: sha256Hex(raw), rawLength: raw.length, ...enc, raw };
    });
    assert.ok(chunks[1]!.payload.length < 100);
    assert.equal(chunks[2]!.method, ChunkMethod.Stored);
    const { bytes, entries } = encodeXorb(chunks);
    assert.deepEqual(decodeXorbIndex(bytes), entries);
    decodeXorb(bytes).forEach((d, i) => assert.deepEqual(Buffer.from(d.raw), Buffer.from(chunks[i]!.raw)));
  });

  it('detects truncation, bad magic and corrupted payloads with their own codes', () => {
    const raw = randomBytes(5000);
    const enc = encodeChunkPayload(raw, 1);
    const { bytes, entries } = encodeXorb([{ hash: sha256Hex(raw), rawLength: raw.length, ...enc }]);
    assert.throws(() => decodeXorbIndex(bytes.subarray(0, bytes.length - 1)), isMcdn('XORB_TRUNCATED'));
    const m = bytes.slice();
    m[0] ^= 1;
    assert.throws(() => decodeXorbIndex(m), isMcdn('XORB_BAD_MAGIC'));
    const c = bytes.slice();
    c[entries[0]!.offset + 10] ^= 0xff;
    assert.throws(() => decodeChunkPayload(entries[0]!, c.subarray(entries[0]!.offset)), isMcdn('CHUNK_HASH_MISMATCH'));
  });

  it('random byte flips never decode to wrong bytes', () => {
    const raw = new Uint8Array(new Float32Array(4096).map((_, i) => Math.sin(i)).buffer);
    const enc = encodeChunkPayload(raw, 4);
    const chunk = { hash: sha256Hex(raw), rawLength: raw.length, ...enc };
    const { bytes } = encodeXorb([chunk]);
    for (let i = 0; i < 300; i++) {
      const m = bytes.slice();
      const at = Math.floor(Math.random() * m.length);
      m[at] ^= 1 + Math.floor(Math.random() * 255);
      try {
        for (const d of decodeXorb(m)) assert.deepEqual(Buffer.from(d.raw), Buffer.from(raw));
      } catch (e) {
        assert.ok(e instanceof McdnError, String(e));
      }
    }
  });
});

describe('chunk manifests', () => {
  const h = (s: string) => sha256Hex(s);
  const good = (): ChunkManifest => ({
    schema: CHUNK_MANIFEST_SCHEMA,
    size: 150,
    sha256: h('file'),
    chunks: [
      { hash: h('a'), rawLength: 100, xorb: h('x'), offset: 56, packedLength: 40, method: ChunkMethod.Zstd, width: 1 },
      { hash: h('b'), rawLength: 80, xorb: h('y'), offset: 56, packedLength: 80, method: ChunkMethod.Stored, width: 1 },
    ],
    refs: [
      { chunk: 0, start: 0, length: 100 },
      { chunk: 1, start: 30, length: 50 },
    ],
  });

  it('round-trips through the compact wire form', () => {
    assert.deepEqual(parseChunkManifest(serializeChunkManifest(good())), good());
  });

  it('rejects malformed manifests with one code per check', () => {
    const wire = () => JSON.parse(serializeChunkManifest(good()));
    const cases: [string, (w: any) => void][] = [
      ['MANIFEST_BAD_SCHEMA', (w) => (w.schema = 'x')],
      ['MANIFEST_BAD_REF', (w) => (w.refs[0] = [7])],
      ['MANIFEST_BAD_REF', (w) => (w.refs[1] = [1, 70, 50])],
      ['MANIFEST_BAD_REF', (w) => (w.chunks[0][2] = 9)],
      ['MANIFEST_BAD_CHUNK', (w) => (w.chunks[0][0] = '../../etc/passwd')],
      ['MANIFEST_SIZE_MISMATCH', (w) => (w.size = 151)],
      ['MANIFEST_BAD_FIELD', (w) => (w.sha256 = 'zz')],
    ];
    for (const [code, mutate] of cases) {
      const w = wire();
      mutate(w);
      assert.throws(() => parseChunkManifest(JSON.stringify(w)), isMcdn(code), code);
    }
    assert.throws(() => parseChunkManifest('{'), isMcdn('MANIFEST_NOT_JSON'));
  });

  it('coalesces neighbouring payloads of one xorb into one range', () => {
    const x = h('x');
    const loc = (offset: number, len: number, xorb = x) => ({ hash: h(String(offset)), rawLength: len, xorb, offset, packedLength: len, method: ChunkMethod.Stored, width: 1 });
    const r = coalesceRanges([loc(100, 10), loc(110, 10), loc(10_000_000, 5), loc(130, 5), loc(0, 5, h('y'))]);
    assert.equal(r.length, 3);
    const first = r.find((q) => q.xorb === x && q.start === 100)!;
    assert.equal(first.end, 135);
    assert.equal(first.chunks.length, 3);
  });
});
