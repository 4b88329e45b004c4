/**
 * Test helpers for the delta layer (used by its tests and by scripts/make-patch-vectors.ts): a seeded
 * PRNG with Gaussian draws, and a synthetic pair of safetensors models — a "continued training" step
 * with unchanged, perturbed, renamed, added, removed and FP32→FP16 re-encoded tensors. Writes nothing.
 */
import { serializeSafetensors, parseSafetensors, safetensorsToLayout, type SafetensorsTensor } from '../formats/index.ts';
import type { TensorInfo } from '../formats/types.ts';
import { f32ToF16 } from '../formats/numeric.ts';

/** mulberry32: small, fast, seedable. */
export function prng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(rnd: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

function f32(n: number, g: () => number, scale = 0.05): Uint8Array {
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = g() * scale;
  return new Uint8Array(f.buffer);
}

/** Multiply every float32 by (1 + N(0, sigma)). */
export function perturbF32(bytes: Uint8Array, sigma: number, g: () => number): Uint8Array {
  const f = new Float32Array(Uint8Array.from(bytes).buffer);
  for (let i = 0; i < f.length; i++) f[i] = f[i] * (1 + sigma * g());
  return new Uint8Array(f.buffer);
}

export interface ModelPair {
  old: Uint8Array;
  nw: Uint8Array;
  oldTensors: TensorInfo[];
  newTensors: TensorInfo[];
}

/** A safetensors pair of about `scale` × 20 kB exercising every segment kind of the tensor method. */
export function makeSafetensorsPair(seed: number, scale = 1, sigma = 1e-3): ModelPair {
  const rnd = prng(seed);
  const g = gaussian(rnd);
  const n = Math.max(4, Math.round(1000 * scale));
  const i32 = new Uint8Array(new Int32Array(Array.from({ length: 64 }, () => Math.floor(rnd() * 1000))).buffer);
  const f16 = new Uint8Array(new Uint16Array(Array.from({ length: 128 }, () => 0x3c00 + Math.floor(rnd() * 512))).buffer);
  const oldT: SafetensorsTensor[] = [
    { name: 'embed.weight', dtype: 'F32', shape: [n], data: f32(n, g) },
    { name: 'layer.0.weight', dtype: 'F32', shape: [n / 2, 2], data: f32(n, g) },
    { name: 'layer.0.bias', dtype: 'F32', shape: [16], data: f32(16, g) },
    { name: 'layer.1.weight', dtype: 'F16', shape: [128], data: f16 },
    { name: 'positions', dtype: 'I32', shape: [64], data: i32 },
    { name: 'old.only', dtype: 'F32', shape: [32], data: f32(32, g) },
    { name: 'head.weight', dtype: 'F32', shape: [n], data: f32(n, g) },
    { name: 'proj.weight', dtype: 'F32', shape: [96], data: f32(96, g) },
  ];
  const byName = (k: string) => oldT.find((t) => t.name === k)!.data;
  const bumped = new Int32Array(Uint8Array.from(i32).buffer).map((x, i) => (i % 5 === 0 ? x + 3 : x));
  const f16b = new Uint16Array(Uint8Array.from(f16).buffer).map((x, i) => (i % 3 === 0 ? x ^ 1 : x));
  const newT: SafetensorsTensor[] = [
    { name: 'embed.weight', dtype: 'F32', shape: [n], data: byName('embed.weight') }, // unchanged
    { name: 'layer.0.weight', dtype: 'F32', shape: [n / 2, 2], data: perturbF32(byName('layer.0.weight'), sigma, g) },
    { name: 'layer.0.bias', dtype: 'F32', shape: [16], data: perturbF32(byName('layer.0.bias'), sigma * 10, g) },
    { name: 'layer.1.weight', dtype: 'F16', shape: [128], data: new Uint8Array(f16b.buffer) },
    { name: 'positions', dtype: 'I32', shape: [64], data: new Uint8Array(bumped.buffer) },
    { name: 'renamed.head', dtype: 'F32', shape: [n], data: byName('head.weight') }, // renamed, same content
    { name: 'brand.new', dtype: 'F32', shape: [48], data: f32(48, g) },
    // re-encoded to FP16 (predicted by the cast)
    { name: 'proj.weight', dtype: 'F16', shape: [96], data: new Uint8Array(f32ToF16(new Float32Array(Uint8Array.from(byName('proj.weight')).buffer)).buffer) },
  ];
  const old = serializeSafetensors(oldT, { step: '1000' });
  const nw = serializeSafetensors(newT, { step: '1100' });
  const layout = (b: Uint8Array) => safetensorsToLayout(parseSafetensors(b), b.length).tensors;
  return { old, nw, oldTensors: layout(old), newTensors: layout(nw) };
}
