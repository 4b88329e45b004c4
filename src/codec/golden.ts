/**
 * Builds the golden test vector docs/spec/vectors/mixed.mcz (+ .bin, .json): one chunk of each
 * method, chunked by hand so the file stays tiny. Run `node --import tsx src/codec/golden.ts --write`
 * to regenerate; the test only decodes the committed files. Not used on the pack/unpack path.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { concat, encodeChunk, METHOD_NAMES, METHOD_PLANES, METHOD_SPARSE, METHOD_STORED, METHOD_ZSTD, METHOD_REF, METHOD_BROTLI, type ChunkMethod, type EncodeChunkOptions } from './chunk.ts';
import { encodeHeader, encodeLayout, type MczLayout } from './format.ts';
import { RefTracker } from './jobs.ts';
import { syntheticWeights } from './synth.ts';

export const VECTORS_DIR = fileURLToPath(new URL('../../docs/spec/vectors/', import.meta.url));

export function buildGoldenVector(): { mcz: Uint8Array; original: Uint8Array; meta: Record<string, unknown> } {
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
  const header = encodeHeader(
    { originalSize: original.byteLength, sha256: createHash('sha256').update(original).digest('hex'), chunks: entries },
    encodeLayout(layout),
    new TextEncoder().encode(JSON.stringify(layout)).byteLength,
  );
  const mcz = concat([header, ...entries.map((e) => e.payload)]);
  const meta = {
    description: 'mixed.mcz decodes to mixed.bin; one chunk per method (chunk 4 repeats chunk 1)',
    originalSize: original.byteLength,
    sha256: createHash('sha256').update(original).digest('hex'),
    mczSize: mcz.byteLength,
    chunks: entries.map((e) => ({ offset: e.offset, rawLength: e.rawLength, packedLength: e.packedLength, method: METHOD_NAMES[e.method], width: e.width, sha256: e.sha256 })),
    tensors: layout.tensors.map((t) => ({ name: t.name, offset: t.offset, length: t.length })),
  };
  return { mcz, original, meta };
}

if (process.argv.includes('--write') && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const v = buildGoldenVector();
  writeFileSync(VECTORS_DIR + 'mixed.mcz', v.mcz);
  writeFileSync(VECTORS_DIR + 'mixed.bin', v.original);
  writeFileSync(VECTORS_DIR + 'mixed.json', JSON.stringify(v.meta, null, 2) + '\n');
  process.stdout.write(`wrote ${VECTORS_DIR}mixed.{mcz,bin,json} (${v.mcz.byteLength} → ${v.original.byteLength} bytes)\n`);
}
