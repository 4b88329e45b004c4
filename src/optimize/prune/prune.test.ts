import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { prune2of4, pruneGlobal, prunePerTensor, zeroCount } from './magnitude.ts';
import { pruneFile } from './index.ts';
import { tinyOnnxBytes } from '../test-models.ts';
import { evaluatePair } from '../eval/index.ts';
import { readSafetensorsFile, writeSafetensors } from '../../formats/safetensors.ts';
import { main } from '../../cli/main.ts';
import { isMcdnError } from '../../errors.ts';

const u8 = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const floats = fc.array(fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 200 }).map((a) => Float32Array.from(a));

function capture() {
  let text = '';
  return { stream: { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream, get text() { return text; } };
}

test('per-tensor: exactly round(s·n) more zeros at least, and every zeroed |w| ≤ every kept |w| (property)', () => {
  fc.assert(
    fc.property(floats, fc.double({ min: 0, max: 0.99, noNaN: true }), (d, s) => {
      const p = prunePerTensor(d, s);
      const k = Math.round(s * d.length);
      if (zeroCount(p) < k) return false;
      let maxZeroed = 0;
      let minKept = Infinity;
      for (let i = 0; i < d.length; i++) {
        if (p[i] === 0 && d[i] !== 0) maxZeroed = Math.max(maxZeroed, Math.abs(d[i]!));
        else if (p[i] !== 0) {
          minKept = Math.min(minKept, Math.abs(d[i]!));
          if (p[i] !== d[i]) return false;
        }
      }
      return maxZeroed <= minKept;
    }),
  );
});

test('global: one threshold over all tensors; the exact total count is reached', () => {
  const a = Float32Array.from([1, 2, 3, 4]);
  const b = Float32Array.from([0.5, 10, 20, 30]);
  const [pa, pb] = pruneGlobal([a, b], 0.5);
  assert.deepEqual([...pa!], [0, 0, 0, 4]);
  assert.deepEqual([...pb!], [0, 10, 20, 30]);
  const ties = pruneGlobal([Float32Array.from([1, 1, 1, 1])], 0.5);
  assert.equal(zeroCount(ties[0]!), 2);
});

test('2:4: every group of 4 along the axis keeps its 2 largest (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 100 }), (rows, groups, seed) => {
      const R = groups * 4;
      const d = Float32Array.from({ length: rows * R }, (_, i) => Math.sin(i * 7.1 + seed) + 0.001 * i);
      const p = prune2of4(d, [rows, R], 1);
      for (let r = 0; r < rows; r++) {
        for (let g = 0; g < groups; g++) {
          const idx = [0, 1, 2, 3].map((j) => r * R + g * 4 + j);
          const z = idx.filter((i) => p[i] === 0).length;
          if (z < 2) return false;
          const kept = idx.filter((i) => p[i] !== 0).map((i) => Math.abs(d[i]!));
          const dropped = idx.filter((i) => p[i] === 0).map((i) => Math.abs(d[i]!));
          if (Math.min(...kept) < Math.max(...dropped)) return false;
        }
      }
      return true;
    }),
  );
  // along axis 0 of a [8, 2] matrix (MatMul B: groups run down the K axis)
  const m = Float32Array.from([1, 8, 2, 7, 3, 6, 4, 5, 5, 4, 6, 3, 7, 2, 8, 1]);
  const p = prune2of4(m, [8, 2], 0);
  assert.deepEqual([...p], [0, 8, 0, 7, 3, 0, 4, 0, 0, 4, 0, 3, 7, 0, 8, 0]);
});

test('prune ONNX (opset 9, Constant node weights): sparsity reached, biases kept, runs in onnxruntime', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcdn-prune-'));
  try {
    const src = join(dir, 't.onnx');
    writeFileSync(src, tinyOnnxBytes(9, 4));
    const out = join(dir, 'p.onnx');
    const r = await pruneFile(src, out, { sparsity: 0.5, scope: 'per-tensor', pattern: 'unstructured', minElements: 256 });
    const byName = new Map(r.tensors.map((t) => [t.name, t]));
    for (const n of ['W1', 'W2', 'K']) assert.ok(Math.abs(byName.get(n)!.sparsityAfter! - 0.5) < 0.01, n);
    assert.equal(byName.get('B2')!.action, 'kept');
    const ev = await evaluatePair(src, out, { randomBatch: 1 });
    assert.equal(ev.outputs.length, 2);
    const r24 = await pruneFile(src, join(dir, 'p24.onnx'), { sparsity: 0.5, scope: 'global', pattern: '2:4', minElements: 256 });
    assert.equal(r24.tensors.find((t) => t.name === 'W1')!.groupAxis, 0, 'MatMul B groups along K');
    assert.equal(r24.tensors.find((t) => t.name === 'W2')!.groupAxis, 1, 'Gemm transB: groups along K = axis 1');
    assert.equal(r24.tensors.find((t) => t.name === 'W1')!.sparsityAfter, 0.5);
    assert.equal(r24.tensors.find((t) => t.name === 'W2')!.sparsityAfter, 0.5);
    // Conv K [16,3,3,3]: groups along C=3 are short (keep 2 of 3)
    assert.ok(Math.abs(r24.tensors.find((t) => t.name === 'K')!.sparsityAfter! - 1 / 3) < 1e-9);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('prune safetensors keeps format, dtype and names; bad sparsity → one error, no output', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mcdn-prune-'));
  try {
    const w = Float32Array.from({ length: 64 * 64 }, (_, i) => Math.sin(i));
    const src = join(dir, 'm.safetensors');
    await writeSafetensors(src, [
      { name: 'fc.weight', dtype: 'F32', shape: [64, 64], data: u8(w) },
      { name: 'fc.bias', dtype: 'F32', shape: [64], data: u8(new Float32Array(64).fill(0.1)) },
    ]);
    const out = join(dir, 'p.safetensors');
    const r = await pruneFile(src, out, { sparsity: 0.7, scope: 'global', pattern: 'unstructured', minElements: 16 });
    assert.equal(r.zeros, Math.round(0.7 * 4096));
    const f = await readSafetensorsFile(out);
    assert.deepEqual(f.tensors.map((t) => [t.name, t.dtype]), [['fc.weight', 'F32'], ['fc.bias', 'F32']]);
    assert.deepEqual(f.tensors[1]!.data, u8(new Float32Array(64).fill(0.1)));
    for (const s of ['1', '-0.1', 'abc', '']) {
      const err = capture();
      const code = await main(['prune', src, '-o', join(dir, 'bad.safetensors'), '--sparsity', s], { stdout: capture().stream, stderr: err.stream });
      assert.notEqual(code, 0, s);
      assert.equal(err.text.trim().split('\n').length, 1);
    }
    await assert.rejects(pruneFile(src, join(dir, 'bad.safetensors'), { sparsity: 0.3, scope: 'global', pattern: '2:4', minElements: 16 }), (e: unknown) => isMcdnError(e) && e.code === 'BAD_SPARSITY');
    const junk = join(dir, 'junk.txt');
    writeFileSync(junk, 'hello');
    const err = capture();
    assert.notEqual(await main(['prune', junk, '-o', join(dir, 'bad.safetensors'), '--sparsity', '0.5'], { stdout: capture().stream, stderr: err.stream }), 0);
    assert.ok(!existsSync(join(dir, 'bad.safetensors')));
    assert.deepEqual(readdirSync(dir).sort(), ['junk.txt', 'm.safetensors', 'p.safetensors']);
    assert.ok(readFileSync(out).length > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
