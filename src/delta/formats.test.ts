/**
 * The tensor method on every model format readModelLayout knows: a real ONNX model, a real TF.js
 * weight shard (with its model.json beside it), a safetensors file and a GGUF file, each "trained a
 * step further" in place. The patch must reproduce NEW and code the weights as residuals.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelLayout, serializeGguf, GgufType } from '../formats/index.ts';
import type { TensorInfo } from '../formats/types.ts';
import { f16ToF32, f32ToF16 } from '../formats/numeric.ts';
import { fixture } from '../../test/fixtures.ts';
import { applyPatch, makePatch } from './patch-file.ts';
import { gaussian, makeSafetensorsPair, perturbF32, prng } from './test-util.ts';

const dir = mkdtempSync(join(tmpdir(), 'mcdn-delta-formats-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Perturb every F32/F16 tensor of a file in place (same layout), σ relative. */
function perturbFile(bytes: Uint8Array, tensors: TensorInfo[], sigma: number, seed: number): Uint8Array {
  const g = gaussian(prng(seed));
  const out = Uint8Array.from(bytes);
  for (const t of tensors) {
    if (t.file !== undefined) continue;
    const raw = out.slice(t.offset, t.offset + t.length);
    if (t.dtype === 'F32' && t.length % 4 === 0 && (t.extra?.['encoding'] ?? 'raw') === 'raw') out.set(perturbF32(raw, sigma, g), t.offset);
    else if (t.dtype === 'F16' && t.length % 2 === 0) {
      const f = f16ToF32(new Uint16Array(raw.buffer));
      out.set(new Uint8Array(f32ToF16(new Float32Array(perturbF32(new Uint8Array(f.buffer), sigma, g).buffer)).buffer), t.offset);
    }
  }
  return out;
}

async function roundTrip(oldPath: string, newPath: string, name: string, maxRatio: number): Promise<void> {
  const patch = join(dir, `${name}.patch`);
  const r = await makePatch(oldPath, newPath, patch, { method: 'tensor', level: 3 });
  assert.ok(r.tensorStats && r.tensorStats.delta > 0, `${name}: weights coded as residuals`);
  assert.ok(r.size / r.newSize < maxRatio, `${name}: ratio ${(r.size / r.newSize).toFixed(3)}`);
  const out = join(dir, `${name}.out`);
  await applyPatch(oldPath, patch, out);
  assert.deepEqual(readFileSync(out), readFileSync(newPath));
}

test('ONNX (ppocr_mobile_v2_cls, σ=1e-3)', async () => {
  const src = fixture('models', 'onnx', 'ppocr_mobile_v2_cls.onnx');
  const layout = await readModelLayout(src);
  const nw = join(dir, 'cls-new.onnx');
  writeFileSync(nw, perturbFile(new Uint8Array(readFileSync(src)), layout.tensors, 1e-3, 1));
  await roundTrip(src, nw, 'onnx', 0.6);
});

test('TF.js weight shard (facemesh fp16 .bin with its model.json, σ=1e-2)', async () => {
  const d0 = join(dir, 'fm-old');
  const d1 = join(dir, 'fm-new');
  mkdirSync(d0);
  mkdirSync(d1);
  for (const f of ['facemesh.json', 'facemesh.bin']) copyFileSync(fixture('models', 'tfjs', 'facemesh-fp16', f), join(d0, f));
  copyFileSync(join(d0, 'facemesh.json'), join(d1, 'facemesh.json'));
  const layout = await readModelLayout(join(d0, 'facemesh.bin'));
  assert.ok(layout.tensors.length > 0);
  writeFileSync(join(d1, 'facemesh.bin'), perturbFile(new Uint8Array(readFileSync(join(d0, 'facemesh.bin'))), layout.tensors, 1e-2, 2));
  await roundTrip(join(d0, 'facemesh.bin'), join(d1, 'facemesh.bin'), 'tfjs', 0.9);
});

test('safetensors (synthetic continued training)', async () => {
  const p = makeSafetensorsPair(3, 20);
  writeFileSync(join(dir, 'a.safetensors'), p.old);
  writeFileSync(join(dir, 'b.safetensors'), p.nw);
  await roundTrip(join(dir, 'a.safetensors'), join(dir, 'b.safetensors'), 'safetensors', 0.5);
});

test('GGUF (F32 and F16 tensors)', async () => {
  const g = gaussian(prng(4));
  const f32 = (n: number) => new Uint8Array(new Float32Array(n).map(() => g() * 0.02).buffer);
  const model = {
    metadata: [
      { key: 'general.architecture', type: GgufType.STRING, value: 'llama' },
      { key: 'general.name', type: GgufType.STRING, value: 'tiny' },
    ],
    tensors: [
      { name: 'token_embd.weight', dtype: 'F32' as const, shape: [64, 128], data: f32(64 * 128) },
      { name: 'blk.0.attn_q.weight', dtype: 'F16' as const, shape: [64, 64], data: new Uint8Array(f32ToF16(new Float32Array(f32(64 * 64).buffer)).buffer) },
      { name: 'output_norm.weight', dtype: 'F32' as const, shape: [128], data: f32(128) },
    ],
  };
  const old = serializeGguf(model);
  writeFileSync(join(dir, 'a.gguf'), old);
  const layout = await readModelLayout(join(dir, 'a.gguf'));
  assert.equal(layout.format, 'gguf');
  writeFileSync(join(dir, 'b.gguf'), perturbFile(old, layout.tensors, 1e-3, 5));
  await roundTrip(join(dir, 'a.gguf'), join(dir, 'b.gguf'), 'gguf', 0.6);
});
