import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { gguf as hfGguf } from '@huggingface/gguf';
import { quantizeInt8, dequantizeInt8, castF16 } from './int8.ts';
import { quantizeFile, dequantizeFile, quantizeOnnxModel } from './index.ts';
import { tinyOnnxBytes } from '../test-models.ts';
import { evaluatePair } from '../eval/index.ts';
import { decodeOnnxModel, encodeOnnxModel, makeOnnxTensor, type OnnxModel } from '../../formats/onnx/model.ts';
import { makeNode } from '../onnx/rewrite.ts';
import { REL_ERROR_LIMIT, relativeRmsError } from './sensitivity.ts';
import { readSafetensorsFile, writeSafetensors } from '../../formats/safetensors.ts';
import { writeGguf, GgufType } from '../../formats/gguf.ts';
import { dequantQ8_0 } from '../../formats/numeric.ts';
import { readTfjsWeights } from '../../formats/tfjs.ts';
import { fixture } from '../../../test/fixtures.ts';
import { main } from '../../cli/main.ts';
import { isMcdnError } from '../../errors.ts';

const CLS = fixture('models', 'onnx', 'ppocr_mobile_v2_cls.onnx');
const VAD5 = fixture('models', 'onnx', 'silero_vad_v5.onnx');
const u8 = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const base = { granularity: 'per-channel' as const, minElements: 256 };

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mcdn-quant-'));
}
function capture() {
  let text = '';
  return { stream: { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream, get text() { return text; } };
}
function opsOf(path: string): string[] {
  const m = decodeOnnxModel(new Uint8Array(readFileSync(path)));
  const ops: string[] = [];
  const walk = (nodes: NonNullable<typeof m.graph>['node']) => {
    for (const n of nodes) {
      ops.push(n.op_type!);
      for (const a of n.attribute) if (a.g) walk(a.g.node);
    }
  };
  walk(m.graph!.node);
  return ops;
}

test('int8: per-channel error is at most half a step of its channel (property)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 1000 }), (c, k, seed) => {
      const data = Float32Array.from({ length: c * k }, (_, i) => Math.sin(i * 12.9898 + seed) * (1 + (i % c)) * 3);
      const r = quantizeInt8(data, [c, k], 0);
      const back = dequantizeInt8(r.q, r.scales, [c, k], 0);
      for (let ch = 0; ch < c; ch++) {
        for (let j = 0; j < k; j++) {
          const i = ch * k + j;
          if (Math.abs(back[i]! - data[i]!) > r.scales[ch]! / 2 + 1e-6) return false;
          if (Math.abs(r.q[i]!) > 127) return false;
        }
      }
      return true;
    }),
  );
  const z = quantizeInt8(new Float32Array(8), [2, 4], 0);
  assert.deepEqual([...z.q], [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(castF16(Float32Array.from([1e6])).overflow, 1);
});

for (const [opset, ir, method] of [[7, 3, 'Cast+Mul'], [11, 6, 'Cast+Mul'], [13, 7, 'DequantizeLinear']] as const) {
  test(`onnx int8 at opset ${opset} (IR ${ir}): ${method}, runs in onnxruntime, outputs close`, async () => {
    const dir = tmp();
    try {
      const src = join(dir, 'tiny.onnx');
      writeFileSync(src, tinyOnnxBytes(opset, ir));
      const out = join(dir, 'tiny.int8.onnx');
      const r = await quantizeFile(src, out, { scheme: 'int8', ...base });
      assert.equal(r.report.method, method);
      const byName = new Map(r.report.tensors.map((t) => [t.name, t]));
      assert.equal(byName.get('W1')!.action, 'int8');
      assert.equal(byName.get('W1')!.axis, 1, 'MatMul B [K,N]: output channel axis 1');
      assert.equal(byName.get('W2')!.action, 'int8', 'weights in Constant nodes count');
      assert.equal(byName.get('W2')!.axis, 0, 'Gemm transB=1: B is [N,K]');
      assert.equal(byName.get('K')!.axis, 0);
      assert.equal(byName.get('B2')!.action, 'kept');
      assert.match(byName.get('KB')!.reason!, /small|not a weight/);
      const ops = opsOf(out);
      if (method === 'DequantizeLinear') assert.ok(ops.includes('DequantizeLinear'));
      else assert.ok(ops.includes('Cast') && ops.includes('Mul') && !ops.includes('DequantizeLinear'));
      const ev = await evaluatePair(src, out, { randomBatch: 1 });
      for (const o of ev.outputs) assert.ok(o.cosine > 0.999, `${o.name} cosine ${o.cosine}`);
      assert.ok(r.sizeAfter < r.sizeBefore / 2, `${r.sizeAfter} vs ${r.sizeBefore}`);
      // per-tensor also runs
      const pt = join(dir, 'tiny.pt.onnx');
      const r2 = await quantizeFile(src, pt, { scheme: 'int8', ...base, granularity: 'per-tensor' });
      assert.equal(r2.report.tensors.find((t) => t.name === 'W1')!.axis, null);
      const ev2 = await evaluatePair(src, pt, { randomBatch: 1 });
      for (const o of ev2.outputs) assert.ok(o.cosine > 0.99);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('onnx int8 per-block: one scale per channel and block of the reduction axis (Cast+Mul+Reshape), runs at opset 9', async () => {
  const dir = tmp();
  try {
    const src = join(dir, 'tiny.onnx');
    writeFileSync(src, tinyOnnxBytes(9, 4));
    const out = join(dir, 'tiny.blk.onnx');
    const r = await quantizeFile(src, out, { scheme: 'int8', ...base, granularity: 'per-block', blockSize: 8 });
    const by = new Map(r.report.tensors.map((t) => [t.name, t]));
    assert.equal(by.get('W1')!.blockSize, 8, 'MatMul B [16,64]: blocks of 8 along K');
    assert.equal(by.get('W1')!.blockAxis, 0);
    assert.equal(by.get('W2')!.blockAxis, 1, 'Gemm transB: K is axis 1');
    assert.equal(by.get('K')!.blockSize, undefined, 'Conv with 3 input channels: per-channel fallback');
    assert.ok(opsOf(out).includes('Reshape'));
    const ev = await evaluatePair(src, out, { randomBatch: 1 });
    for (const o of ev.outputs) assert.ok(o.cosine > 0.999, `${o.name} ${o.cosine}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('onnx int8 on real fixtures: PaddleOCR cls (opset 9, Constant nodes) and Silero v5 (opset 16, If subgraphs)', async () => {
  const dir = tmp();
  try {
    const cls = join(dir, 'cls.int8.onnx');
    const r = await quantizeFile(CLS, cls, { scheme: 'int8', granularity: 'per-channel', minElements: 1024 });
    assert.equal(r.report.method, 'Cast+Mul');
    assert.ok(r.sizeBefore / r.sizeAfter > 2, `ratio ${r.sizeBefore / r.sizeAfter}`);
    const all = quantizeOnnxModel(decodeOnnxModel(new Uint8Array(readFileSync(CLS))), { scheme: 'int8', granularity: 'per-channel', minElements: 0 });
    assert.ok(all.report.tensors.some((t) => t.action === 'kept' && /normalization parameter of BatchNormalization/.test(t.reason ?? '')), 'BN params named as kept');
    assert.ok(all.report.tensors.some((t) => t.action === 'kept' && /not a float tensor/.test(t.reason ?? '')), 'shape/int tensors named as kept');
    const ev = await evaluatePair(CLS, cls, { randomBatch: 4, shapes: { x: [4, 3, 48, 192] } });
    assert.equal(ev.outputs[0]!.argmaxAgreement, 1);

    const vad = join(dir, 'vad.int8.onnx');
    const rv = await quantizeFile(VAD5, vad, { scheme: 'int8', granularity: 'per-channel', minElements: 1024 });
    assert.equal(rv.report.method, 'DequantizeLinear');
    assert.ok(rv.report.tensors.some((t) => t.action === 'int8' && t.graph), 'weights inside subgraphs quantized');
    assert.ok(rv.report.tensors.some((t) => t.action === 'int8' && t.via?.includes('Slice')), 'LSTM weights reached through Slice');
    assert.ok(opsOf(vad).includes('DequantizeLinear'));
    const ev2 = await evaluatePair(VAD5, vad, { sequential: true, values: { sr: 16000 }, shapes: { input: [6, 512] } });
    assert.ok(ev2.outputs[0]!.maxAbsError < 0.05, `max abs error ${ev2.outputs[0]!.maxAbsError}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('onnx fp16 / bf16: in-graph Cast, near-identical outputs; bf16 below opset 13 refused', async () => {
  const dir = tmp();
  try {
    const src = join(dir, 'tiny.onnx');
    writeFileSync(src, tinyOnnxBytes(9, 4));
    const h = join(dir, 'tiny.fp16.onnx');
    const r = await quantizeFile(src, h, { scheme: 'fp16', ...base });
    assert.ok(r.report.tensors.filter((t) => t.action === 'fp16').length >= 3);
    const ev = await evaluatePair(src, h, { randomBatch: 1 });
    for (const o of ev.outputs) assert.ok(o.cosine > 0.99999);
    await assert.rejects(quantizeFile(src, join(dir, 'bf.onnx'), { scheme: 'bf16', ...base }), (e: unknown) => isMcdnError(e) && e.code === 'QUANTIZE_BF16_OPSET');
    assert.ok(!existsSync(join(dir, 'bf.onnx')));
    const src13 = join(dir, 'tiny13.onnx');
    writeFileSync(src13, tinyOnnxBytes(13));
    const b = join(dir, 'tiny.bf16.onnx');
    await quantizeFile(src13, b, { scheme: 'bf16', ...base });
    const evb = await evaluatePair(src13, b, { randomBatch: 1 });
    for (const o of evb.outputs) assert.ok(o.cosine > 0.9999);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('safetensors int8: compressed-tensors layout, biases/norms kept, dequantize restores floats', async () => {
  const dir = tmp();
  try {
    const w = Float32Array.from({ length: 64 * 32 }, (_, i) => Math.sin(i) * (1 + (i >> 5) / 8));
    const bias = Float32Array.from({ length: 64 }, (_, i) => i / 64);
    const norm = Float32Array.from({ length: 32 * 32 }, () => 1);
    const src = join(dir, 'm.safetensors');
    await writeSafetensors(src, [
      { name: 'layer.weight', dtype: 'F32', shape: [64, 32], data: u8(w) },
      { name: 'layer.bias', dtype: 'F32', shape: [64], data: u8(bias) },
      { name: 'encoder.layernorm.weight', dtype: 'F32', shape: [32, 32], data: u8(norm) },
      { name: 'ids', dtype: 'I64', shape: [4], data: new Uint8Array(32) },
    ], { format: 'pt' });
    const q = join(dir, 'q.safetensors');
    const r = await quantizeFile(src, q, { scheme: 'int8', ...base });
    assert.equal(r.quantized, 1);
    const f = await readSafetensorsFile(q);
    const t = new Map(f.tensors.map((x) => [x.name, x]));
    assert.equal(t.get('layer.weight')!.dtype, 'I8');
    assert.deepEqual(t.get('layer.weight_scale')!.shape, [64, 1]);
    assert.equal(t.get('layer.bias')!.dtype, 'F32');
    assert.equal(t.get('encoder.layernorm.weight')!.dtype, 'F32');
    assert.equal(f.metadata!['format'], 'pt');
    const qc = JSON.parse(f.metadata!['quantization_config']!);
    assert.equal(qc.format, 'int-quantized');
    assert.equal(qc.config_groups.group_0.weights.strategy, 'channel');
    const d = join(dir, 'd.safetensors');
    const dr = await dequantizeFile(q, d, 'F32');
    assert.equal(dr.restored, 1);
    const back = (await readSafetensorsFile(d)).tensors.find((x) => x.name === 'layer.weight')!;
    assert.equal(back.dtype, 'F32');
    const bv = new Float32Array(back.data.slice().buffer);
    const scales = new Float32Array(t.get('layer.weight_scale')!.data.slice().buffer);
    for (let i = 0; i < w.length; i++) assert.ok(Math.abs(bv[i]! - w[i]!) <= scales[i >> 5]! / 2 + 1e-6);
    assert.ok(!(await readSafetensorsFile(d)).tensors.some((x) => x.name.endsWith('_scale')));
    await assert.rejects(dequantizeFile(src, join(dir, 'x.safetensors'), 'F32'), (e: unknown) => isMcdnError(e) && e.code === 'NOT_QUANTIZED');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gguf Q8_0: blocks readable by @huggingface/gguf, values within one step', async () => {
  const dir = tmp();
  try {
    const w = Float32Array.from({ length: 128 * 64 }, (_, i) => Math.cos(i / 3) * 0.2);
    const src = join(dir, 'm.gguf');
    await writeGguf(src, {
      metadata: [{ key: 'general.architecture', type: GgufType.STRING, value: 'llama' }, { key: 'general.file_type', type: GgufType.UINT32, value: 0 }],
      tensors: [
        { name: 'blk.0.ffn_up.weight', dtype: 'F32', shape: [128, 64], data: u8(w) },
        { name: 'blk.0.attn_norm.weight', dtype: 'F32', shape: [64], data: u8(new Float32Array(64).fill(1)) },
      ],
    });
    const out = join(dir, 'q.gguf');
    const r = await quantizeFile(src, out, { scheme: 'int8', ...base });
    assert.equal(r.report.method, 'Q8_0');
    const hf = await hfGguf(out, { allowLocalFile: true });
    const info = new Map(hf.tensorInfos.map((t) => [t.name, t]));
    assert.equal(Number(info.get('blk.0.ffn_up.weight')!.dtype), 8, 'GGML_TYPE_Q8_0 = 8');
    assert.equal(Number(info.get('blk.0.attn_norm.weight')!.dtype), 0, 'norm stays F32');
    assert.equal(Number((hf.metadata as unknown as Record<string, unknown>)['general.file_type']), 7);
    const bytes = readFileSync(out);
    const t = r.report.tensors.find((x) => x.name === 'blk.0.ffn_up.weight')!;
    assert.equal(t.bytesAfter, (w.length / 32) * 34);
    const off = Number(hf.tensorDataOffset) + Number(info.get('blk.0.ffn_up.weight')!.offset);
    const back = dequantQ8_0(new Uint8Array(bytes.buffer, bytes.byteOffset + off, t.bytesAfter), w.length);
    for (let i = 0; i < w.length; i++) assert.ok(Math.abs(back[i]! - w[i]!) < 0.2 / 127 + 1e-4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tfjs uint8: manifest quantization {dtype, scale, min} that tfjs-core decodes', async () => {
  const dir = tmp();
  try {
    const src = fixture('models', 'tfjs', 'facemesh-fp32', 'facemesh.json');
    const outDir = join(dir, 'fm8');
    const r = await quantizeFile(src, outDir, { scheme: 'int8', granularity: 'per-channel', minElements: 1024 });
    assert.equal(r.format, 'tfjs');
    assert.ok(r.sizeAfter < r.sizeBefore / 3, `${r.sizeAfter} vs ${r.sizeBefore}`);
    const { weights } = await readTfjsWeights(join(outDir, 'facemesh.json'));
    const orig = await readTfjsWeights(src);
    const tf = await import('@tensorflow/tfjs-core');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const { createRequire } = await import('node:module');
    wasm.setWasmPaths(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm').replace(/dist\/.*$/, 'dist/'));
    await tf.setBackend('wasm');
    const q = weights.find((w) => w.quantization?.dtype === 'uint8')!;
    assert.ok(q && typeof q.quantization!.scale === 'number' && typeof q.quantization!.min === 'number');
    const decoded = tf.io.decodeWeights(q.data.slice().buffer, [{ name: q.name, shape: q.shape, dtype: 'float32', quantization: q.quantization! } as never]);
    const vals = await decoded[q.name]!.data();
    const o = orig.weights.find((w) => w.name === q.name)!;
    const ov = new Float32Array(o.data.slice().buffer);
    for (let i = 0; i < ov.length; i++) assert.ok(Math.abs(vals[i]! - ov[i]!) <= q.quantization!.scale! / 2 + 1e-5);
    tf.dispose(Object.values(decoded));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('quantize CLI: bad input → one error line, non-zero exit, no output file', async () => {
  const dir = tmp();
  try {
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, Buffer.from('this is not a model, just some bytes\n'.repeat(10)));
    const out = join(dir, 'out.onnx');
    for (const argv of [
      ['quantize', junk, '-o', out],
      ['quantize', CLS, '-o', out, '--scheme', 'int4'],
      ['quantize', CLS, '-o', out, '--granularity', 'per-row'],
      ['quantize', CLS, '-o', out, '--exclude', '('],
      ['quantize', join(dir, 'missing.onnx'), '-o', out],
    ]) {
      const err = capture();
      const code = await main(argv, { stdout: capture().stream, stderr: err.stream });
      assert.notEqual(code, 0, argv.join(' '));
      assert.match(err.text, /^error: /);
      assert.equal(err.text.trim().split('\n').length, 1, err.text);
    }
    // a protobuf the runtime rejects: a valid-looking ONNX with a node of an unknown op
    const m = decodeOnnxModel(tinyOnnxBytes(13));
    m.graph!.node[0]!.op_type = 'NoSuchOp';
    const { encodeOnnxModel } = await import('../../formats/onnx/model.ts');
    const bad = join(dir, 'bad.onnx');
    writeFileSync(bad, encodeOnnxModel(m));
    const err = capture();
    assert.notEqual(await main(['quantize', bad, '-o', out], { stdout: capture().stream, stderr: err.stream }), 0);
    assert.match(err.text, /onnxruntime cannot load/);
    assert.deepEqual(readdirSync(dir).sort(), ['bad.onnx', 'junk.bin']);
    // success path prints the size line
    const ok = capture();
    assert.equal(await main(['quantize', CLS, '-o', out, '--report', join(dir, 'r.json')], { stdout: ok.stream, stderr: capture().stream }), 0);
    assert.match(ok.text, /FP32 579 kB → INT8 \d+ kB/);
    const rep = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
    assert.ok(rep.tensors.every((t: { action: string; reason?: string }) => t.action !== 'kept' || t.reason));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fuzz: corrupted ONNX / safetensors inputs either quantize or fail with McdnError (never crash)', async () => {
  const dir = tmp();
  try {
    const onnx = tinyOnnxBytes(13);
    const w = Float32Array.from({ length: 32 * 32 }, (_, i) => Math.sin(i));
    const stPath = join(dir, 'seed.safetensors');
    await writeSafetensors(stPath, [{ name: 'a.weight', dtype: 'F32', shape: [32, 32], data: u8(w) }]);
    const st = new Uint8Array(readFileSync(stPath));
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (const [ext, good] of [['onnx', onnx], ['safetensors', st]] as const) {
      for (let i = 0; i < 40; i++) {
        const b = new Uint8Array(good);
        let bytes: Uint8Array = b;
        if (i % 3 === 0) bytes = b.subarray(0, Math.floor(rnd() * b.length));
        else for (let k = 0; k < 1 + (i % 4); k++) b[Math.floor(rnd() * b.length)] ^= 1 << Math.floor(rnd() * 8);
        const p = join(dir, `f${i}.${ext}`);
        writeFileSync(p, bytes);
        try {
          await quantizeFile(p, join(dir, `o${i}.${ext}`), { scheme: 'int8', ...base });
        } catch (e) {
          assert.ok(isMcdnError(e), `${ext} case ${i}: ${(e as Error)?.stack}`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sensitivity rule: relative error flags outlier-heavy channels; Log/Div-denominator feeders stay FP16; --plain turns it off', async () => {
  // synthetic weights: per channel, small values plus one large outlier → per-channel step is coarse
  const K = 128;
  const N = 16;
  let s = 99;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const smooth = new Float32Array(K * N).map(() => rnd());
  const outl = new Float32Array(K * N).map(() => 0.01 * rnd());
  for (let n = 0; n < N; n++) outl[(n * 7) % K * N + n] = 1; // one outlier per output channel (axis 1)
  assert.ok(relativeRmsError(smooth, [K, N], 1, quantizeInt8(smooth, [K, N], 1)) < REL_ERROR_LIMIT);
  assert.ok(relativeRmsError(outl, [K, N], 1, quantizeInt8(outl, [K, N], 1)) > REL_ERROR_LIMIT);
  // model: x → MatMul(W_out) → y; x → MatMul(W_smooth) → y2; x → MatMul(B) → Mul(self) → Add(eps) → Log → y3; x → MatMul(D) → Abs → Div(1, ·) → y4
  const vi = (name: string, dims: number[]) => ({ name, type: { tensor_type: { elem_type: 1, shape: { dim: dims.map((d) => ({ dim_value: d })) } } }, metadata_props: [] });
  const t = (name: string, v: Float32Array) => makeOnnxTensor(name, 'F32', [K, N], new Uint8Array(v.buffer.slice(0)));
  const model: OnnxModel = {
    ir_version: 7, opset_import: [{ domain: '', version: 13 }], producer_name: 'test', metadata_props: [], training_info: [], functions: [],
    graph: {
      name: 'g',
      node: [
        makeNode('MatMul', ['x', 'W_out'], ['y'], 'm1'),
        makeNode('MatMul', ['x', 'W_smooth'], ['y2'], 'm2'),
        makeNode('MatMul', ['x', 'B'], ['b'], 'm3'), makeNode('Mul', ['b', 'b'], ['b2'], 'sq'), makeNode('Add', ['b2', 'eps'], ['b3'], 'ad'), makeNode('Log', ['b3'], ['y3'], 'lg'),
        makeNode('MatMul', ['x', 'D'], ['d'], 'm4'), makeNode('Abs', ['d'], ['da'], 'ab'), makeNode('Div', ['one', 'da'], ['y4'], 'dv'),
      ],
      initializer: [t('W_out', outl), t('W_smooth', smooth), t('B', smooth.slice()), t('D', smooth.slice()),
        makeOnnxTensor('eps', 'F32', [], new Uint8Array(new Float32Array([1e-6]).buffer)), makeOnnxTensor('one', 'F32', [], new Uint8Array(new Float32Array([1]).buffer))],
      sparse_initializer: [], input: [vi('x', [1, K])], output: [vi('y', [1, N]), vi('y2', [1, N]), vi('y3', [1, N]), vi('y4', [1, N])], value_info: [], quantization_annotation: [], metadata_props: [],
    },
  };
  const bytes = encodeOnnxModel(model);
  const by = (plain: boolean) => new Map(quantizeOnnxModel(decodeOnnxModel(bytes), { scheme: 'int8', ...base, ...(plain ? { plain } : {}) }).report.tensors.map((x) => [x.name, x]));
  const d = by(false);
  assert.equal(d.get('W_out')!.action, 'int8');
  assert.equal(d.get('W_out')!.blockSize, 64, 'outlier channels → per-block');
  assert.match(d.get('W_out')!.reason!, /sensitive: per-channel error/);
  assert.equal(d.get('W_smooth')!.blockSize, undefined, 'smooth weights stay per-channel');
  assert.equal(d.get('W_smooth')!.axis, 1);
  assert.equal(d.get('B')!.action, 'fp16');
  assert.match(d.get('B')!.reason!, /reaches Log/);
  assert.equal(d.get('D')!.action, 'fp16');
  assert.match(d.get('D')!.reason!, /Div denominator/);
  const p = by(true);
  for (const n of ['W_out', 'W_smooth', 'B', 'D']) {
    assert.equal(p.get(n)!.action, 'int8', n);
    assert.equal(p.get(n)!.blockSize, undefined, n);
  }
  // the default result runs in onnxruntime and stays close
  const dir = tmp();
  try {
    const src = join(dir, 'sens.onnx');
    writeFileSync(src, bytes);
    const out = join(dir, 'sens.int8.onnx');
    await quantizeFile(src, out, { scheme: 'int8', ...base });
    const ev = await evaluatePair(src, out, { randomBatch: 1 });
    for (const o of ev.outputs) assert.ok(o.cosine > 0.999, `${o.name} ${o.cosine}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
