/**
 * Deterministic synthetic model weights for tests and the benchmark: normally distributed FP32
 * values with a per-tensor scale (Box–Muller over a seeded LCG), optionally pruned. Never used on
 * the pack/unpack path.
 */

/** `count` FP32 values ~ N(0, scale²) as little-endian bytes. */
export function syntheticWeights(count: number, seed = 1, scale = 0.05, zeroFraction = 0): Uint8Array {
  const f = new Float32Array(count);
  let s = seed >>> 0 || 1;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  for (let i = 0; i < count; i += 2) {
    const r = Math.sqrt(-2 * Math.log(rnd())) * scale;
    const a = 2 * Math.PI * rnd();
    f[i] = r * Math.cos(a);
    if (i + 1 < count) f[i + 1] = r * Math.sin(a);
  }
  if (zeroFraction > 0) for (let i = 0; i < count; i++) if (rnd() < zeroFraction) f[i] = 0;
  return new Uint8Array(f.buffer);
}
