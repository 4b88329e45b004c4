/** The convolution gradient kernels registered for the wasm backend, against direct loops. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTf } from './tf.ts';

type Shape4 = [number, number, number, number];
const CASES: [number, number, number, number, 'same' | 'valid'][] = [
  [8, 8, 3, 1, 'same'],
  [9, 7, 3, 2, 'same'],
  [10, 12, 5, 2, 'valid'],
  [6, 6, 2, 2, 'same'],
  [7, 9, 1, 1, 'same'],
  [11, 13, 3, 3, 'same'],
];

/** Σ over the conv's (n, oh, ow, ky, kx) of visit(xIndex, wIndex, dyIndex) */
function forEachTap(xs: Shape4, ws: Shape4, dys: Shape4, s: number, pt: number, pl: number, visit: (xi: number, wi: number, di: number) => void) {
  const [n, H, W, ci] = xs;
  const [kh, kw, , co] = ws;
  const [, OH, OW] = dys;
  for (let b = 0; b < n; b++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let i = 0; i < kh; i++)
          for (let j = 0; j < kw; j++) {
            const h = oh * s + i - pt;
            const w = ow * s + j - pl;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            for (let c = 0; c < ci; c++)
              for (let o = 0; o < co; o++) visit(((b * H + h) * W + w) * ci + c, ((i * kw + j) * ci + c) * co + o, ((b * OH + oh) * OW + ow) * co + o);
          }
}

test('Conv2DBackpropFilter and Conv2DBackpropInput (wasm) match direct loops', async () => {
  const { tf } = await loadTf();
  assert.equal(tf.getBackend(), 'wasm');
  for (const [H, W, k, s, pad] of CASES) {
    const x = tf.randomNormal([3, H, W, 2], 0, 1, 'float32', 7) as import('@tensorflow/tfjs-core').Tensor4D;
    const f = tf.randomNormal([k, k, 2, 4], 0, 1, 'float32', 8) as import('@tensorflow/tfjs-core').Tensor4D;
    const y = tf.conv2d(x, f, s, pad);
    const dy = tf.randomNormal(y.shape, 0, 1, 'float32', 9);
    const [gx, gf] = tf.grads((a, b) => tf.sum(tf.mul(tf.conv2d(a as typeof x, b as typeof f, s, pad), dy)))([x, f]);
    const info = tf.backend_util.computeConv2DInfo(x.shape, f.shape, s, 1, pad);
    const xv = x.dataSync();
    const fv = f.dataSync();
    const dv = dy.dataSync();
    const refX = new Float64Array(x.size);
    const refF = new Float64Array(f.size);
    forEachTap(x.shape, f.shape, y.shape, s, info.padInfo.top, info.padInfo.left, (xi, wi, di) => {
      refX[xi] = refX[xi]! + fv[wi]! * dv[di]!;
      refF[wi] = refF[wi]! + xv[xi]! * dv[di]!;
    });
    const maxDiff = (a: ArrayLike<number>, b: Float64Array) => b.reduce((m, v, i) => Math.max(m, Math.abs(v - a[i]!)), 0);
    assert.ok(maxDiff(gx!.dataSync(), refX) < 1e-4, `dX ${H}x${W} k${k} s${s} ${pad}`);
    assert.ok(maxDiff(gf!.dataSync(), refF) < 1e-4, `dW ${H}x${W} k${k} s${s} ${pad}`);
    tf.dispose([x, f, y, dy, gx!, gf!]);
  }
});

test('batch-norm gradient (broadcasting, no Tile) equals the gradient of the elementary formula', async () => {
  const { tf } = await loadTf();
  type T = import('@tensorflow/tfjs-core').Tensor;
  for (const shape of [[4, 3, 5, 6], [7, 6]]) {
    const c = shape[shape.length - 1]!;
    const x = tf.randomNormal(shape, 0, 1, 'float32', 1);
    const mean = tf.randomNormal([c], 0, 1, 'float32', 2);
    const variance = tf.add(tf.randomUniform([c], 0.2, 2, 'float32', 3), 0);
    const scale = tf.randomNormal([c], 1, 0.3, 'float32', 4);
    const offset = tf.randomNormal([c], 0, 1, 'float32', 5);
    const dy = tf.randomNormal(shape, 0, 1, 'float32', 6);
    const eps = 1e-3;
    const fused = (a: T, m: T, v: T, s: T, o: T) => tf.sum(tf.mul(tf.batchNorm(a, m, v, o, s, eps), dy));
    const plain = (a: T, m: T, v: T, s: T, o: T) => tf.sum(tf.mul(tf.add(tf.mul(tf.mul(tf.sub(a, m), tf.rsqrt(tf.add(v, eps))), s), o), dy));
    const gf = tf.grads(fused)([x, mean, variance, scale, offset]);
    const gp = tf.grads(plain)([x, mean, variance, scale, offset]);
    gf.forEach((g, i) => {
      const a = g.dataSync();
      const b = gp[i]!.dataSync();
      const m = Array.from(a as ArrayLike<number>).reduce((acc, v, j) => Math.max(acc, Math.abs(v - Number(b[j]))), 0);
      assert.ok(m < 1e-3, `input ${i} of batchNorm ${shape}: max diff ${m}`);
    });
  }
});
