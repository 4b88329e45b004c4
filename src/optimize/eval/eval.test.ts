import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { compareOutputs, cosine } from './metrics.ts';
import { findStatePairs, stateBaseName } from './runner.ts';
import { randomInputs } from './random-inputs.ts';
import { evaluatePair } from './index.ts';
import { concatBatch, sliceBatch } from './tensors.ts';
import { writeSafetensors } from '../../formats/safetensors.ts';
import { fixture } from '../../../test/fixtures.ts';
import { main } from '../../cli/main.ts';
import { McdnError } from '../../errors.ts';

const VAD5 = fixture('models', 'onnx', 'silero_vad_v5.onnx');
const VAD4 = fixture('models', 'onnx', 'silero_vad_v4legacy.onnx');
const CLS = fixture('models', 'onnx', 'ppocr_mobile_v2_cls.onnx');

function capture() {
  let text = '';
  return { stream: { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream, get text() { return text; } };
}

test('metrics: identical outputs agree fully; a flipped row lowers argmax agreement', () => {
  const a = { dims: [2, 3], data: [0.1, 0.7, 0.2, 0.5, 0.3, 0.2] };
  assert.deepEqual(compareOutputs('o', a, a).argmaxAgreement, 1);
  const b = { dims: [2, 3], data: [0.1, 0.7, 0.2, 0.2, 0.3, 0.5] };
  const m = compareOutputs('o', a, b);
  assert.equal(m.argmaxAgreement, 0.5);
  assert.ok(Math.abs(m.maxAbsError - 0.3) < 1e-12);
  assert.ok(Math.abs(m.meanAbsError - 0.1) < 1e-12);
  const s = compareOutputs('p', { dims: [4, 1], data: [0.1, 0.6, 0.9, 0.4] }, { dims: [4, 1], data: [0.2, 0.4, 0.8, 0.45] });
  assert.equal(s.argmaxAgreement, null);
  assert.equal(s.thresholdAgreement, 0.75);
  assert.throws(() => compareOutputs('x', { dims: [2], data: [1, 2] }, { dims: [1, 2], data: [1, 2] }), (e: unknown) => e instanceof McdnError && e.code === 'EVAL_SHAPE_MISMATCH');
});

test('cosine: scale invariant and bounded (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.float({ min: -100, max: 100, noNaN: true }), { minLength: 1, maxLength: 50 }), fc.float({ min: Math.fround(0.01), max: 100, noNaN: true }), (v, k) => {
      const c = cosine(v, v.map((x) => x * k));
      return c <= 1 && c >= -1 && (v.every((x) => x === 0) || v.map((x) => x * k).every((x) => x === 0) || Math.abs(c - 1) < 1e-6 || c === 0);
    }),
  );
});

test('slice/concat along the batch axis round-trip', () => {
  const t = { type: 'float32' as const, dims: [5, 2], data: Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) };
  const parts = [sliceBatch(t, 0, 2), sliceBatch(t, 2, 5)];
  const c = concatBatch(parts);
  assert.deepEqual(c.dims, [5, 2]);
  assert.deepEqual([...c.data as Float32Array], [...t.data]);
});

test('state pairs are found by name and shape (v4 h/c, v5 state, *_out)', () => {
  assert.deepEqual(stateBaseName('hn'), ['h']);
  assert.deepEqual(stateBaseName('stateN'), ['state']);
  const f = (n: string, shape: (number | string)[]) => ({ name: n, type: 'float32', shape });
  assert.deepEqual(
    findStatePairs([f('input', ['b', 't']), f('h', [2, 'b', 64]), f('c', [2, 'b', 64])], [f('output', ['b', 1]), f('hn', [2, 'b', 64]), f('cn', [2, 'b', 64])]),
    [{ output: 'hn', input: 'h' }, { output: 'cn', input: 'c' }],
  );
  assert.deepEqual(findStatePairs([f('mem', [1, 8])], [f('mem_out', [1, 8])]), [{ output: 'mem_out', input: 'mem' }]);
  // a shape conflict prevents a pairing
  assert.deepEqual(findStatePairs([f('h', [2, 1, 64])], [f('hn', [2, 1, 32])]), []);
});

test('random inputs are seeded and follow declared shapes', () => {
  const specs = [{ name: 'x', type: 'float32', shape: ['N', 3, 'H', 'W'] as (number | string)[] }, { name: 'k', type: 'int64', shape: [] as (number | string)[] }];
  const a = randomInputs(specs, { seed: 7, batch: 2, defaultDim: 16 });
  const b = randomInputs(specs, { seed: 7, batch: 2, defaultDim: 16 });
  assert.deepEqual(a.inputs['x']!.dims, [2, 3, 16, 16]);
  assert.deepEqual(a.inputs['x']!.data, b.inputs['x']!.data);
  assert.deepEqual(a.inputs['k']!.dims, []);
  const c = randomInputs(specs, { seed: 8, batch: 2, defaultDim: 16 });
  assert.notDeepEqual(a.inputs['x']!.data, c.inputs['x']!.data);
});

test('eval: a model against itself agrees exactly (random inputs, batched)', async () => {
  const r = await evaluatePair(CLS, CLS, { randomBatch: 3, shapes: { x: [3, 3, 48, 192] } });
  assert.equal(r.inputs.source, 'random');
  assert.equal(r.runtime.graphOptimizationLevel, 'basic');
  assert.equal(r.outputs.length, 1);
  assert.equal(r.outputs[0]!.cosine, 1);
  assert.equal(r.outputs[0]!.maxAbsError, 0);
  assert.equal(r.outputs[0]!.argmaxAgreement, 1);
  assert.equal(r.rows, 3);
});

test('eval --sequential: Silero v5 vs v4 from an inputs file, state fed back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcdn-eval-'));
  try {
    const n = 6;
    const audio = new Float32Array(n * 512);
    for (let i = 0; i < audio.length; i++) audio[i] = 0.3 * Math.sin(i / 7) * (i > 1024 ? 1 : 0.01);
    const sr = new BigInt64Array([16000n]);
    const path = join(dir, 'vad.safetensors');
    await writeSafetensors(path, [
      { name: 'input', dtype: 'F32', shape: [n, 512], data: new Uint8Array(audio.buffer) },
      { name: 'sr', dtype: 'I64', shape: [], data: new Uint8Array(sr.buffer) },
    ]);
    const out = capture();
    const err = capture();
    const code = await main(['eval', VAD5, VAD4, '--inputs', path, '--sequential', '--json'], { stdout: out.stream, stderr: err.stream });
    assert.equal(code, 0, err.text);
    const r = JSON.parse(out.text);
    assert.equal(r.mode, 'sequential');
    assert.deepEqual(r.statePairs, [{ output: 'stateN', input: 'state' }]);
    assert.equal(r.rows, n);
    assert.deepEqual(r.outputs[0].shape, [n, 1]);
    assert.ok(r.outputs[0].thresholdAgreement !== null);
    // same model twice → exact agreement
    const same = await evaluatePair(VAD5, VAD5, { sequential: true, values: { sr: 16000 }, shapes: { input: [4, 512] } });
    assert.equal(same.outputs[0]!.maxAbsError, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('eval: a file the runtime rejects → one error line, non-zero exit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcdn-eval-'));
  try {
    const bad = join(dir, 'bad.onnx');
    writeFileSync(bad, 'not a model at all');
    const out = capture();
    const err = capture();
    const code = await main(['eval', bad, CLS], { stdout: out.stream, stderr: err.stream });
    assert.notEqual(code, 0);
    assert.match(err.text, /^error: .*bad\.onnx: onnxruntime cannot load this model/);
    assert.equal(err.text.trim().split('\n').length, 1);
    const code2 = await main(['eval', CLS, CLS, '--inputs', bad], { stdout: out.stream, stderr: err.stream });
    assert.notEqual(code2, 0);
    const code3 = await main(['eval', VAD5, VAD5, '--sequential', '--shape', 'input=2x512'], { stdout: out.stream, stderr: capture().stream });
    assert.notEqual(code3, 0, 'sr missing/random must fail cleanly, not crash');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
