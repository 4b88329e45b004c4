/**
 * scripts/model-family.ts at toy size: four checkpoints, ONNX + safetensors (FP32 and INT8), and the
 * structural facts the delta benchmark relies on (v3 changes only the class layer; v2 and v4 change
 * every tensor; all checkpoints run in onnxruntime).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readSafetensorsFile } from '../formats/index.ts';
import { buildFamily } from '../../scripts/model-family.ts';

const dir = mkdtempSync(join(tmpdir(), 'mcdn-family-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('model family: v1..v4 checkpoints with the expected tensor changes', async () => {
  const fam = await buildFamily({ dir, spec: 'mlp:24', baseEpochs: 2, moreEpochs: 1 });
  assert.deepEqual(fam.members.map((m) => m.version), ['v1', 'v2', 'v3', 'v4']);
  for (const m of fam.members) {
    for (const p of Object.values(m.files)) assert.ok(existsSync(p), p);
    assert.ok(m.testAccuracy > 0.3, `${m.version} accuracy ${m.testAccuracy}`);
    const s = await ort.InferenceSession.create(m.files.onnx);
    const y = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', new Float32Array(64).fill(4), [1, 64]) });
    assert.deepEqual(y[s.outputNames[0]!]!.dims, [1, 10]);
    await s.release();
  }
  const tensors = async (v: string) => {
    const f = await readSafetensorsFile(fam.members.find((m) => m.version === v)!.files.safetensors);
    return new Map(f.tensors.map((t) => [t.name, Buffer.from(t.data)]));
  };
  const [v2, v3, v4] = [await tensors('v2'), await tensors('v3'), await tensors('v4')];
  const changed = (a: Map<string, Buffer>, b: Map<string, Buffer>) => [...a.keys()].filter((k) => !a.get(k)!.equals(b.get(k)!)).sort();
  assert.deepEqual(changed(v2, v3), ['head.bias', 'head.weight']);
  assert.equal(changed(v2, v4).length, v2.size);
  if (fam.members[0]!.files.onnxInt8) assert.ok(fam.members[0]!.sizes['onnxInt8']! < fam.members[0]!.sizes['onnx']!);
});
