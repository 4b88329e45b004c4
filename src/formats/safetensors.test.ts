import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  parseSafetensors, serializeSafetensors, writeSafetensors, readSafetensorsFile, readSafetensorsHeader,
  SAFETENSORS_DTYPES, MAX_HEADER_BYTES, type SafetensorsTensor,
} from './safetensors.ts';
import { openSource } from './source.ts';
import { tensorByteLength } from './numeric.ts';
import { isMcdnError } from '../errors.ts';
import { fuzzParser } from './fuzz-util.ts';
import type { DType } from './types.ts';

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    assert.ok(isMcdnError(e), `expected McdnError, got ${String(e)}`);
    return e.code;
  }
  return 'NO_ERROR';
};

function withHeader(json: string, data = new Uint8Array(0)): Uint8Array {
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const sample = (): SafetensorsTensor[] => [
  { name: 'w', dtype: 'F32', shape: [2, 3], data: new Uint8Array(24).map((_, i) => i) },
  { name: 'b', dtype: 'BF16', shape: [3], data: new Uint8Array(6).fill(7) },
  { name: 'mask', dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
  { name: 'empty', dtype: 'I64', shape: [0, 4], data: new Uint8Array(0) },
];

test('safetensors: serialize then parse gives absolute offsets, metadata and an 8-aligned data start', () => {
  const bytes = serializeSafetensors(sample(), { format: 'pt', note: 'hi' });
  const h = parseSafetensors(bytes);
  assert.equal(h.dataStart % 8, 0);
  assert.deepEqual(h.metadata, { format: 'pt', note: 'hi' });
  assert.deepEqual(h.tensors.map((t) => [t.name, t.dtype, t.length]), [['w', 'F32', 24], ['b', 'BF16', 6], ['mask', 'BOOL', 2], ['empty', 'I64', 0]]);
  const w = h.tensors[0]!;
  assert.deepEqual(bytes.subarray(w.offset, w.offset + w.length), sample()[0]!.data);
  assert.equal(new TextDecoder().decode(h.rawHeader).startsWith('{"__metadata__":{"format":"pt","note":"hi"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}'), true);
});

test('safetensors: every failed check has its own code', () => {
  assert.equal(codeOf(() => parseSafetensors(new Uint8Array(5))), 'SAFETENSORS_TOO_SMALL');
  const big = new Uint8Array(16);
  new DataView(big.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 1), true);
  assert.equal(codeOf(() => parseSafetensors(big)), 'SAFETENSORS_HEADER_TOO_LARGE');
  const trunc = new Uint8Array(16);
  new DataView(trunc.buffer).setBigUint64(0, 100n, true);
  assert.equal(codeOf(() => parseSafetensors(trunc)), 'SAFETENSORS_HEADER_TRUNCATED');
  const notUtf8 = withHeader('{}');
  notUtf8[9] = 0xff;
  assert.equal(codeOf(() => parseSafetensors(notUtf8)), 'SAFETENSORS_HEADER_NOT_UTF8');
  assert.equal(codeOf(() => parseSafetensors(withHeader('{"a":'))), 'SAFETENSORS_HEADER_INVALID_JSON');
  assert.equal(codeOf(() => parseSafetensors(withHeader('[1]'))), 'SAFETENSORS_HEADER_NOT_OBJECT');
  assert.equal(codeOf(() => parseSafetensors(withHeader('{"__metadata__":{"a":1}}'))), 'SAFETENSORS_BAD_METADATA');
  assert.equal(codeOf(() => parseSafetensors(withHeader('{"t":3}'))), 'SAFETENSORS_BAD_TENSOR_ENTRY');
  assert.equal(codeOf(() => parseSafetensors(withHeader('{"t":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)))), 'SAFETENSORS_UNKNOWN_DTYPE');
  assert.equal(codeOf(() => parseSafetensors(withHeader('{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', new Uint8Array(4)))), 'SAFETENSORS_BAD_SHAPE');
  assert.equal(codeOf(() => parseSafetensors(withHeader('{"t":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', new Uint8Array(4)))), 'SAFETENSORS_BAD_OFFSETS');
  assert.equal(codeOf(() => parseSafetensors(withHeader('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', new Uint8Array(4)))), 'SAFETENSORS_SIZE_MISMATCH');
  assert.equal(codeOf(() => parseSafetensors(withHeader('{"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(8)))), 'SAFETENSORS_OFFSETS_NOT_CONTIGUOUS');
  assert.equal(codeOf(() => parseSafetensors(withHeader('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(2)))), 'SAFETENSORS_DATA_TRUNCATED');
  assert.equal(codeOf(() => parseSafetensors(withHeader('{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(6)))), 'SAFETENSORS_TRAILING_BYTES');
  assert.equal(codeOf(() => serializeSafetensors([sample()[0]!, sample()[0]!])), 'SAFETENSORS_DUPLICATE_NAME');
});

const dtypeArb = fc.constantFrom(...SAFETENSORS_DTYPES);
const tensorArb = fc
  .record({ dtype: dtypeArb, shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }), seed: fc.integer({ min: 0, max: 255 }) })
  .map(({ dtype, shape, seed }) => ({ dtype: dtype as DType, shape, data: new Uint8Array(tensorByteLength(dtype as DType, shape)!).map((_, i) => (i * 31 + seed) & 255) }));

test('safetensors: parse(serialize(x)) == x (property)', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== '__metadata__'), tensorArb), { selector: (t) => t[0], maxLength: 6 }),
      fc.option(fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'), fc.string({ maxLength: 8 }), { maxKeys: 3 }), { nil: undefined }),
      (entries, metadata) => {
        const tensors = entries.map(([name, t]) => ({ name, ...t }));
        const bytes = serializeSafetensors(tensors, metadata);
        const h = parseSafetensors(bytes);
        assert.deepEqual(h.metadata, metadata === undefined ? undefined : { ...metadata });
        const byName = new Map(h.tensors.map((t) => [t.name, t]));
        for (const t of tensors) {
          const p = byName.get(t.name)!;
          assert.equal(p.dtype, t.dtype);
          assert.deepEqual(p.shape, t.shape);
          assert.deepEqual(bytes.subarray(p.offset, p.offset + p.length), t.data);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('safetensors: writeSafetensors streams to a temp file, renames, and rewrites byte for byte', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mcdn-st-'));
  try {
    // a file whose header another writer made: spaces, different key order, metadata last
    const foreign = withHeader(
      '{ "b": {"shape": [2], "dtype": "F16", "data_offsets": [8, 12]}, "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "__metadata__": {"k": "v"} }   ',
      new Uint8Array(12).map((_, i) => i + 1),
    );
    const src = join(dir, 'foreign.safetensors');
    await writeFile(src, foreign);
    const loaded = await readSafetensorsFile(src);
    const out = join(dir, 'out.safetensors');
    await writeSafetensors(out, loaded.tensors, loaded.metadata, { rawHeader: loaded.rawHeader });
    assert.deepEqual(new Uint8Array(await readFile(out)), foreign);
    // modified: canonical header is generated instead
    loaded.tensors[0]!.data = new Uint8Array(8);
    await writeSafetensors(out, loaded.tensors.slice(0, 1), loaded.metadata, { rawHeader: loaded.rawHeader });
    const again = await readSafetensorsFile(out);
    assert.deepEqual(again.tensors.map((t) => t.name), ['a']);
    // a canonical file round-trips without the raw header too
    const canon = serializeSafetensors(sample(), { x: 'y' });
    await writeFile(src, canon);
    const l2 = await readSafetensorsFile(src);
    await writeSafetensors(out, l2.tensors, l2.metadata);
    assert.deepEqual(new Uint8Array(await readFile(out)), canon);
    // header read by range on a file source
    const s = await openSource(src);
    const h = await readSafetensorsHeader(s);
    await s.close();
    assert.equal(h.tensors.length, 4);
    assert.deepEqual((await readdir(dir)).sort(), ['foreign.safetensors', 'out.safetensors']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('safetensors: random truncations and byte flips are parsed or rejected with McdnError', async () => {
  const good = serializeSafetensors(sample(), { format: 'pt' });
  const r = await fuzzParser(good, (b) => parseSafetensors(b), { truncations: 60, flips: 200, flipRegion: 8 + 200 });
  assert.ok(r.rejected > 0);
  const r2 = await fuzzParser(good, (b) => parseSafetensors(b), { truncations: 0, flips: 50, seed: 9 });
  assert.ok(r2.parsed + r2.rejected === 56);
});

test('safetensors: a tensor named __proto__ round-trips like any other name (found by the property test)', () => {
  const t = [{ name: '__proto__', dtype: 'F64' as DType, shape: [], data: Uint8Array.from([0, 31, 62, 93, 124, 155, 186, 217]) }];
  const h = parseSafetensors(serializeSafetensors(t));
  assert.deepEqual(
    h.tensors.map((x) => x.name),
    ['__proto__'],
  );
});
