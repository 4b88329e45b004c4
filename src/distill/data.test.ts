/** Transfer-set parsers: CSV and safetensors, happy paths, named errors, and a fuzz run. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isMcdnError } from '../errors.ts';
import { serializeSafetensors } from '../formats/index.ts';
import { checkLabels, fitSampleShape, parseCsvDataset } from './data.ts';
import { parseSafetensorsDataset } from './data-safetensors.ts';

const code = (c: string) => (e: unknown) => isMcdnError(e) && e.code === c;

test('CSV: header skipped, labels split off, errors name line and column', () => {
  const d = parseCsvDataset('a,b,label\n1,2,0\n3.5,-4,2\n', { labels: true });
  assert.deepEqual(Array.from(d.x), [1, 2, 3.5, -4]);
  assert.deepEqual(Array.from(d.labels!), [0, 2]);
  assert.deepEqual(d.sampleShape, [2]);
  assert.throws(() => parseCsvDataset('1,2\n3,x\n', { labels: false }), (e: unknown) => code('DISTILL_CSV_NOT_NUMERIC')(e) && /line 2, column 2/.test((e as Error).message));
  assert.throws(() => parseCsvDataset('1,2\n3\n', { labels: false }), code('DISTILL_CSV_RAGGED'));
  assert.throws(() => parseCsvDataset('1,2.5\n', { labels: true }), code('DISTILL_LABEL_INVALID'));
  assert.throws(() => parseCsvDataset('\n\n', { labels: false }), code('DISTILL_DATA_EMPTY'));
  assert.throws(() => parseCsvDataset('3\n', { labels: true }), code('DISTILL_CSV_NO_FEATURES'));
});

test('shape fitting and label range checks name expected vs found', () => {
  const d = parseCsvDataset(Array.from({ length: 3 }, () => new Array(64).fill(1).join(',')).join('\n'), { labels: false });
  assert.deepEqual(fitSampleShape(d, [64], 't.onnx'), [64]);
  assert.deepEqual(fitSampleShape(d, [1, 8, 8], 't.onnx'), [1, 8, 8]);
  assert.throws(() => fitSampleShape(d, [3, null, null], 't.onnx'), (e: unknown) => code('DISTILL_DATA_SHAPE')(e) && /\[64\].*\[3,\?,\?\]/.test((e as Error).message));
  const l = parseCsvDataset('1,0\n2,5\n', { labels: true });
  checkLabels(l, 6);
  assert.throws(() => checkLabels(l, 5), (e: unknown) => code('DISTILL_LABEL_OUT_OF_RANGE')(e) && /row 2 has label 5, expected 0\.\.4/.test((e as Error).message));
});

function stFile(n: number, withLabels: boolean): Uint8Array {
  const x = Float32Array.from({ length: n * 6 }, (_, i) => i / 7);
  const t = [{ name: 'inputs', dtype: 'F32' as const, shape: [n, 2, 3], data: new Uint8Array(x.buffer) }];
  if (withLabels) t.push({ name: 'labels', dtype: 'I32' as const, shape: [n], data: new Uint8Array(Int32Array.from({ length: n }, (_, i) => i % 3).buffer) } as never);
  return serializeSafetensors(t);
}

test('safetensors: inputs [N,...] and integer labels', () => {
  const d = parseSafetensorsDataset(stFile(4, true), { labels: true, source: 'x.safetensors' });
  assert.equal(d.n, 4);
  assert.deepEqual(d.sampleShape, [2, 3]);
  assert.deepEqual(Array.from(d.labels!), [0, 1, 2, 0]);
  assert.ok(Math.abs(d.x[7]! - 1) < 1e-6);
  assert.throws(() => parseSafetensorsDataset(stFile(4, false), { labels: true, source: 'x' }), code('DISTILL_SAFETENSORS_NO_LABELS'));
  const nan = serializeSafetensors([{ name: 'x', dtype: 'F32', shape: [2, 2], data: new Uint8Array(Float32Array.of(1, 2, NaN, 4).buffer) }]);
  assert.throws(() => parseSafetensorsDataset(nan, { labels: false, source: 'n.safetensors' }), (e: unknown) => code('DISTILL_DATA_NOT_FINITE')(e) && /sample 2/.test((e as Error).message));
});

test('fuzz: truncated / corrupted inputs parse or throw McdnError', () => {
  const good = stFile(5, true);
  const csv = new TextEncoder().encode('f1,f2,f3,y\n1,2,3,0\n4,5,6,1\n7,8,9,2\n');
  fc.assert(
    fc.property(fc.boolean(), fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), (useCsv, cut, flips) => {
      const base = useCsv ? csv : good;
      const b = base.slice(0, base.length - (cut % base.length));
      for (const [i, v] of flips) if (b.length) b[i % b.length] = v;
      try {
        if (useCsv) parseCsvDataset(new TextDecoder().decode(b), { labels: true });
        else parseSafetensorsDataset(b, { labels: true, source: 'fuzz' });
      } catch (e) {
        assert.ok(isMcdnError(e), `non-McdnError: ${String(e)}`);
      }
    }),
    { numRuns: 3000 },
  );
});
