/**
 * Builds the golden test vectors: docs/spec/vectors/mixed.mcz (+ .bin, .json) with a version-1
 * header and one chunk of each method 0–5, and mixed.v2.mcz (+ .v2.bin, .v2.json) with a
 * version-2 header and the same chunks plus TEXT and COLUMNS. Chunked by hand so the files stay
 * tiny. Run `node --import tsx src/codec/golden.ts --write` to regenerate the v2 files (`--v1` also
 * the v1 ones); the tests only decode the committed files. Not used on the pack/unpack path.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { concat, encodeChunk, METHOD_NAMES, METHOD_PLANES, METHOD_SPARSE, METHOD_STORED, METHOD_ZSTD, METHOD_REF, METHOD_BROTLI, METHOD_TEXT, METHOD_COLUMNS, type ChunkMethod, type EncodeChunkOptions } from './chunk.ts';
import { encodeHeader, encodeHeaderV2, encodeLayout, encodeLayoutV2, type MczLayout } from './format.ts';
import { RefTracker } from './jobs.ts';
import { syntheticWeights } from './synth.ts';

export const VECTORS_DIR = fileURLToPath(new URL('../../docs/spec/vectors/', import.meta.url));

export function buildGoldenVector(version: 1 | 2 = 1): { mcz: Uint8Array; original: Uint8Array; meta: Record<string, unknown> } {
  const text = (s: string) => new TextEncoder().encode(s);
  // chunk 0: container bytes around two FP32 tensors → PLANES with a range header
  const head = text('MODEL-HEADER-v1\n'); // 16 bytes
  const t0 = syntheticWeights(256, 11, 0.02);
  const gap = text('--tensor-boundary--\n'); // 20 bytes
  const t1 = syntheticWeights(64, 12, 0.5);
  const c0 = concat([head, t0, gap, t1, text('END.\n\n\n\n')]);
  // chunk 1: a pruned FP32 tensor (90 % zeros) → SPARSE
  const c1 = syntheticWeights(512, 13, 0.1, 0.9);
  // chunk 2: text → ZSTD
  const c2 = text('{"note":"container bytes compress with plain zstd"}\n'.repeat(12));
  // chunk 3: incompressible bytes → STORED
  const c3 = new Uint8Array(300);
  for (let i = 0, h = createHash('sha256').update('mcz').digest(); i < 300; i += 32, h = createHash('sha256').update(h).digest()) c3.set(h.subarray(0, Math.min(32, 300 - i)), i);
  const chunks: { raw: Uint8Array; opts: EncodeChunkOptions; expect: ChunkMethod }[] = [
    { raw: c0, opts: { width: 4, ranges: [{ start: 16, length: 1024 }, { start: 1060, length: 256 }], force: METHOD_PLANES }, expect: METHOD_PLANES },
    { raw: c1, opts: { width: 4, force: METHOD_SPARSE }, expect: METHOD_SPARSE },
    { raw: c2, opts: { force: METHOD_ZSTD }, expect: METHOD_ZSTD },
    { raw: c3, opts: {}, expect: METHOD_STORED },
    { raw: c1, opts: {}, expect: METHOD_REF }, // the pruned tensor again
    { raw: text('a JSON-ish tail: {"k":[1,2,3],"v":"brotli"}\n'.repeat(4)), opts: { force: METHOD_BROTLI }, expect: METHOD_BROTLI },
  ];
  if (version === 2) {
    // chunk 6: a weights manifest → TEXT (values of each key in their own stream, the long scales as
    // double planes, a control byte escaped)
    const manifest = JSON.stringify({ weights: [0, 1, 2, 3].map((i) => ({ name: `conv_${i}/kernel`, shape: [3, 3, 8, 4 << i], dtype: 'uint8', scale: (i + 1) / 7, min: -0.5 - i })) }, null, 1) + '\u0001\n';
    chunks.push({ raw: text(manifest), opts: { force: METHOD_TEXT }, expect: METHOD_TEXT });
    // chunk 7: a 24 × 10 uint8 matrix whose columns differ → COLUMNS with stride 10 (and a 3-byte tail)
    const m = new Uint8Array(24 * 10 + 3);
    for (let i = 0; i < m.length; i++) m[i] = (128 + ((i % 10) - 5) * ((i * 7) % 5)) & 0xff;
    chunks.push({ raw: m, opts: { force: METHOD_COLUMNS, strides: [10] }, expect: METHOD_COLUMNS });
  }
  const original = concat(chunks.map((c) => c.raw));
  const c1Offset = c0.byteLength;
  const layout: MczLayout = {
    format: 'unknown',
    tensors: [
      { name: 't0', dtype: 'F32', shape: [16, 16], offset: 16, length: 1024, width: 4 },
      { name: 't1', dtype: 'F32', shape: [64], offset: 1060, length: 256, width: 4 },
      { name: 'pruned', dtype: 'F32', shape: [512], offset: c1Offset, length: 2048, width: 4 },
      { name: 'pruned_copy', dtype: 'F32', shape: [512], offset: c1Offset + 2048 + c2.byteLength + 300, length: 2048, width: 4 },
    ],
  };
  let offset = 0;
  const refs = new RefTracker();
  const entries = chunks.map((c) => {
    const sha = createHash('sha256').update(c.raw).digest('hex');
    const e = refs.apply({ ...encodeChunk(c.raw, { level: 19, ...c.opts }), sha256: sha, rawLength: c.raw.byteLength, crc32: 0 });
    if (e.method !== c.expect) throw new Error(`golden chunk wanted ${METHOD_NAMES[c.expect]}, got ${METHOD_NAMES[e.method]}`);
    const entry = { offset, rawLength: c.raw.byteLength, packedLength: e.payload.byteLength, method: e.method, width: e.width, crc32: crc32(e.payload) >>> 0, sha256: createHash('sha256').update(c.raw).digest('hex'), payload: e.payload };
    offset += c.raw.byteLength;
    return entry;
  });
  const h = { originalSize: original.byteLength, sha256: createHash('sha256').update(original).digest('hex'), chunks: entries };
  const header = version === 1 ? encodeHeader(h, encodeLayout(layout), new TextEncoder().encode(JSON.stringify(layout)).byteLength) : encodeHeaderV2(h, encodeLayoutV2(layout));
  const mcz = concat([header, ...entries.map((e) => e.payload)]);
  const meta = {
    description:
      version === 1
        ? 'mixed.mcz (version-1 header) decodes to mixed.bin; one chunk per method 0-5 (chunk 4 repeats chunk 1)'
        : 'mixed.v2.mcz (version-2 header) decodes to mixed.v2.bin; one chunk per method 0-7 (chunk 4 repeats chunk 1)',
    version,
    headerLength: header.byteLength,
    originalSize: original.byteLength,
    sha256: createHash('sha256').update(original).digest('hex'),
    mczSize: mcz.byteLength,
    chunks: entries.map((e) => ({ offset: e.offset, rawLength: e.rawLength, packedLength: e.packedLength, method: METHOD_NAMES[e.method], width: e.width, sha256: e.sha256 })),
    tensors: layout.tensors.map((t) => ({ name: t.name, offset: t.offset, length: t.length })),
  };
  return { mcz, original, meta };
}

/** The smallest v2 shape: one TEXT chunk, no tensors (no chunk sha256, no layout block). */
export function buildSingleChunkVector(): { mcz: Uint8Array; original: Uint8Array; meta: Record<string, unknown> } {
  const original = new TextEncoder().encode(JSON.stringify([{ paths: ['model.bin'], weights: [1, 2, 3].map((i) => ({ name: `dense_${i}/bias`, shape: [i * 4], dtype: 'float32' })) }]));
  const e = encodeChunk(original, { force: METHOD_TEXT });
  if (e.method !== METHOD_TEXT) throw new Error('golden single chunk is not TEXT');
  const sha256 = createHash('sha256').update(original).digest('hex');
  const chunk = { offset: 0, rawLength: original.byteLength, packedLength: e.payload.byteLength, method: e.method, width: 1, crc32: crc32(e.payload) >>> 0, sha256 };
  const header = encodeHeaderV2({ originalSize: original.byteLength, sha256, chunks: [chunk] }, encodeLayoutV2({ format: 'tfjs', tensors: [] }));
  const mcz = concat([header, e.payload]);
  const meta = {
    description: 'mixed.v2.single.mcz: version-2 header, one TEXT chunk, no tensors (no chunk sha256, no layout block); decodes to mixed.v2.single.bin',
    version: 2,
    headerLength: header.byteLength,
    originalSize: original.byteLength,
    sha256,
    mczSize: mcz.byteLength,
    format: 'tfjs',
    chunks: [{ offset: 0, rawLength: chunk.rawLength, packedLength: chunk.packedLength, method: 'text', width: 1, sha256 }],
  };
  return { mcz, original, meta };
}

if (process.argv.includes('--write') && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  // mixed.mcz (v1) stays as committed — it proves files written before v2 still decode; --v1 rewrites it too
  for (const version of process.argv.includes('--v1') ? ([1, 2] as const) : ([2] as const)) {
    const v = buildGoldenVector(version);
    const base = VECTORS_DIR + (version === 1 ? 'mixed' : 'mixed.v2');
    writeFileSync(base + '.mcz', v.mcz);
    writeFileSync(base + '.bin', v.original);
    writeFileSync(base + '.json', JSON.stringify(v.meta, null, 2) + '\n');
    process.stdout.write(`wrote ${base}.{mcz,bin,json} (${v.mcz.byteLength} → ${v.original.byteLength} bytes)\n`);
  }
  const v = buildSingleChunkVector();
  const base = VECTORS_DIR + 'mixed.v2.single';
  writeFileSync(base + '.mcz', v.mcz);
  writeFileSync(base + '.bin', v.original);
  writeFileSync(base + '.json', JSON.stringify(v.meta, null, 2) + '\n');
  process.stdout.write(`wrote ${base}.{mcz,bin,json} (${v.mcz.byteLength} → ${v.original.byteLength} bytes)\n`);
}
