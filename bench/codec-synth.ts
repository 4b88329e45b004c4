/**
 * Generates the benchmark's big FP32 safetensors file (never committed): transformer-like layers
 * whose weights are N(0, σ²) with a per-tensor σ ≈ 1/√fan_in, norm weights ≈ 1 and small biases.
 * Usage as a script: node --import tsx bench/codec-synth.ts OUT.safetensors SIZE (e.g. 256MB).
 */
import { writeSafetensors } from '../src/formats/safetensors.ts';
import { syntheticWeights } from '../src/codec/synth.ts';
import { parseBytes } from '../src/cli/output.ts';

/** A realistic FP32 model: transformer-like tensors, N(0, σ²) with per-tensor σ ≈ 1/√fan_in, norms ≈ 1, biases small. */
export async function generateSyntheticModel(path: string, size: number): Promise<void> {
  const tensors: { name: string; dtype: 'F32'; shape: number[]; data: Uint8Array }[] = [];
  const hidden = 2048;
  let bytes = 0;
  let seed = 1;
  for (let layer = 0; bytes < size - 4 * hidden; layer++) {
    for (const [kind, rows] of [['attn.qkv', 3 * hidden], ['attn.out', hidden], ['mlp.up', 4 * hidden], ['mlp.down', hidden]] as const) {
      const fanIn = kind === 'mlp.down' ? 4 * hidden : hidden;
      let count = rows * fanIn;
      if (bytes + count * 4 > size - 8 * hidden) count = Math.max(0, Math.floor((size - 8 * hidden - bytes) / 4 / fanIn)) * fanIn;
      if (count === 0) break;
      tensors.push({ name: `layers.${layer}.${kind}.weight`, dtype: 'F32', shape: [count / fanIn, fanIn], data: syntheticWeights(count, seed++, 1 / Math.sqrt(fanIn) * (0.8 + 0.4 * ((layer * 7 + rows) % 10) / 10)) });
      bytes += count * 4;
    }
    const norm = new Float32Array(syntheticWeights(hidden, seed++, 0.05).buffer).map((x) => 1 + x);
    tensors.push({ name: `layers.${layer}.norm.weight`, dtype: 'F32', shape: [hidden], data: new Uint8Array(norm.buffer) });
    tensors.push({ name: `layers.${layer}.mlp.up.bias`, dtype: 'F32', shape: [hidden], data: syntheticWeights(hidden, seed++, 0.01) });
    bytes += 8 * hidden;
    if (layer > 10_000) break;
  }
  await writeSafetensors(path, tensors, { generator: 'modelcdn bench/codec.ts', note: 'synthetic weights, not a real model' });
}


if (import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await generateSyntheticModel(process.argv[2]!, parseBytes(process.argv[3] ?? '256MB'));
}
