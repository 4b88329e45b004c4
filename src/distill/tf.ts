/**
 * Loads TensorFlow.js for the distiller: tfjs-core + tfjs-layers on the WebAssembly backend (SIMD,
 * single-threaded in Node 20), with the .wasm binaries read from the installed package's dist/ folder.
 * The wasm backend has no Conv2DBackpropFilter kernel (the filter gradient of a convolution), so this
 * module registers one built from kernels it does have: pad, transpose, and a dilated Conv2D
 * (dW[kh,kw,ci,co] = Σ x[n, oh·s+kh, ow·s+kw, ci] · dy[n, oh, ow, co] is a convolution of x over n
 * with dy as the filter, dilated by the stride), a faster Conv2DBackpropInput, and a batch-norm
 * gradient that broadcasts instead of calling wasm's slow Tile. Only this module imports the tfjs packages at top
 * level; everything else gets them through `loadTf()` so the CLI stays fast for other commands.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type Tf = typeof import('@tensorflow/tfjs-core');
export type TfLayers = typeof import('@tensorflow/tfjs-layers');

let loading: Promise<{ tf: Tf; tfl: TfLayers }> | null = null;

/** Initialise tfjs on the wasm backend once per process. */
export function loadTf(): Promise<{ tf: Tf; tfl: TfLayers }> {
  loading ??= (async () => {
    const tf = await import('@tensorflow/tfjs-core');
    const tfl = await import('@tensorflow/tfjs-layers');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const req = createRequire(import.meta.url);
    const dist = join(dirname(req.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
    wasm.setWasmPaths(dist);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend failed to initialise');
    await tf.ready();
    registerConv2DBackpropFilter(tf);
    registerConv2DBackpropInput(tf);
    registerBatchNormGradient(tf);
    return { tf, tfl };
  })();
  return loading;
}

type KernelArgs = { inputs: Record<string, unknown>; backend: unknown; attrs: Record<string, unknown> };
type TensorInfoLike = { dataId: object; shape: number[]; dtype: string };

function registerConv2DBackpropFilter(tf: Tf): void {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return;
  const k = (name: string) => {
    const c = tf.getKernel(name, 'wasm');
    if (!c) throw new Error(`tfjs wasm backend lacks the ${name} kernel`);
    return c.kernelFunc as unknown as (a: KernelArgs) => TensorInfoLike;
  };
  const pad = k('PadV2');
  const transpose = k('Transpose');
  const conv2d = k('Conv2D');
  const slice = k('Slice');
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const x = inputs['x'] as unknown as TensorInfoLike;
      const dy = inputs['dy'] as unknown as TensorInfoLike;
      const { strides, pad: padAttr, dataFormat, dimRoundingMode, filterShape } = attrs as {
        strides: number | [number, number];
        pad: 'same' | 'valid' | number;
        dataFormat: string;
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
        filterShape: [number, number, number, number];
      };
      if (dataFormat && dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropFilter: only NHWC, got ${dataFormat}`);
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        filterShape,
        strides,
        1,
        padAttr,
        dimRoundingMode,
      );
      const { top, bottom, left, right } = info.padInfo;
      const b = backend as { disposeData(id: object): void };
      const free: TensorInfoLike[] = [];
      const xp = pad({ inputs: { x }, backend, attrs: { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 } });
      free.push(xp);
      const xT = transpose({ inputs: { x: xp }, backend, attrs: { perm: [3, 1, 2, 0] } }); // [ci, Hp, Wp, n]
      free.push(xT);
      const dyT = transpose({ inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } }); // [OH, OW, n, co]
      free.push(dyT);
      const r = conv2d({
        inputs: { x: xT, filter: dyT },
        backend,
        attrs: { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [info.strideHeight, info.strideWidth] },
      }); // [ci, KH', KW', co] with KH' >= KH
      free.push(r);
      const [kh, kw, ci, co] = filterShape;
      let cut = r;
      if (r.shape[1] !== kh || r.shape[2] !== kw) {
        cut = slice({ inputs: { x: r }, backend, attrs: { begin: [0, 0, 0, 0], size: [ci, kh, kw, co] } });
        free.push(cut);
      }
      const out = transpose({ inputs: { x: cut }, backend, attrs: { perm: [1, 2, 0, 3] } });
      for (const t of free) b.disposeData(t.dataId);
      return out as never;
    },
  });
}

/**
 * The wasm backend's own Conv2DBackpropInput is a plain loop (slower than the whole forward pass);
 * this one is the textbook transposed convolution on the XNNPACK Conv2D: dilate dy by the stride
 * (reshape + pad), pad by (k − 1 − pad_before), convolve with the filter rotated 180° and with its
 * in/out channels swapped. Falls back to the original kernel for cases it does not cover.
 */
function registerConv2DBackpropInput(tf: Tf): void {
  const original = tf.getKernel('Conv2DBackpropInput', 'wasm');
  if (!original || (original as { fast?: boolean }).fast) return;
  const k = (name: string) => tf.getKernel(name, 'wasm')!.kernelFunc as unknown as (a: KernelArgs) => TensorInfoLike;
  const pad = k('PadV2');
  const transpose = k('Transpose');
  const conv2d = k('Conv2D');
  const slice = k('Slice');
  const reshape = k('Reshape');
  const reverse = k('Reverse');
  const fallback = original.kernelFunc;
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel({
    ...original,
    fast: true,
    kernelFunc: (args) => {
      const { inputs, backend, attrs } = args as unknown as KernelArgs;
      const dy = inputs['dy'] as TensorInfoLike;
      const filter = inputs['filter'] as TensorInfoLike;
      const { strides, pad: padAttr, dataFormat, dimRoundingMode, inputShape } = attrs as {
        strides: number | [number, number];
        pad: 'same' | 'valid' | number;
        dataFormat: string;
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
        inputShape: [number, number, number, number];
      };
      if ((dataFormat && dataFormat !== 'NHWC') || typeof padAttr === 'object') return fallback(args);
      const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, padAttr, dimRoundingMode);
      const [n, h, w, ci] = inputShape;
      const [kh, kw, , co] = filter.shape as [number, number, number, number];
      const sh = info.strideHeight;
      const sw = info.strideWidth;
      const oh = dy.shape[1]!;
      const ow = dy.shape[2]!;
      const top = kh - 1 - info.padInfo.top;
      const left = kw - 1 - info.padInfo.left;
      const bottom = h + kh - 1 - top - oh * sh;
      const right = w + kw - 1 - left - ow * sw;
      if (top < 0 || left < 0 || bottom < 0 || right < 0) return fallback(args);
      const b = backend as { disposeData(id: object): void };
      const free: TensorInfoLike[] = [];
      const keep = <T extends TensorInfoLike>(t: T): T => (free.push(t), t);
      let d = dy;
      if (sh > 1 || sw > 1) {
        const r6 = keep(reshape({ inputs: { x: dy }, backend, attrs: { shape: [n, oh, 1, ow, 1, co] } }));
        const p6 = keep(pad({ inputs: { x: r6 }, backend, attrs: { paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]], constantValue: 0 } }));
        d = keep(reshape({ inputs: { x: p6 }, backend, attrs: { shape: [n, oh * sh, ow * sw, co] } }));
      }
      const dp = keep(pad({ inputs: { x: d }, backend, attrs: { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 } }));
      const fr = keep(reverse({ inputs: { x: filter }, backend, attrs: { dims: [0, 1] } }));
      const ft = keep(transpose({ inputs: { x: fr }, backend, attrs: { perm: [0, 1, 3, 2] } })); // [kh, kw, co, ci]
      const out = conv2d({ inputs: { x: dp, filter: ft }, backend, attrs: { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1] } });
      for (const t of free) b.disposeData(t.dataId);
      if (out.shape[1] !== h || out.shape[2] !== w || out.shape[3] !== ci) throw new Error(`Conv2DBackpropInput: got [${out.shape}], expected [${inputShape}]`);
      return out as never;
    },
  } as Parameters<Tf['registerKernel']>[0]);
}

/**
 * tfjs-core's FusedBatchNorm gradient multiplies dy by a per-channel factor through `tile`, which the
 * wasm backend runs as a slow scalar loop (it dominated training time of conv students with batch
 * norm). The same formulas with broadcasting instead of tile:
 *   dx = dy·scale/√(var+ε);  dmean = Σ −dy·scale/√(var+ε);  dvar = Σ −½(var+ε)^−3/2·(x−mean)·dy·scale;
 *   dscale = Σ dy·(x−mean)/√(var+ε);  doffset = Σ dy   (Σ over every axis but the channel axis).
 */
function registerBatchNormGradient(tf: Tf): void {
  type T = import('@tensorflow/tfjs-core').Tensor;
  tf.registerGradient({
    kernelName: 'FusedBatchNorm',
    inputsToSave: ['x', 'mean', 'variance', 'scale'],
    gradFunc: (dy, saved, attrs) => {
      const { varianceEpsilon } = attrs as { varianceEpsilon: number };
      const [x, mean, variance, scale] = saved as [T, T, T, T | null];
      const g = dy as T;
      const scaleValue = scale ?? tf.scalar(1);
      const axes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
      const reduce = (t: T) => tf.reshape(axes.length ? tf.sum(t, axes) : t, mean.shape);
      const xMinusMean = tf.sub(x, mean);
      const dyTimesScale = tf.mul(g, scaleValue);
      const rs = tf.rsqrt(tf.add(variance, tf.scalar(varianceEpsilon)));
      return {
        x: () => tf.reshape(tf.mul(dyTimesScale, rs), x.shape),
        mean: () => reduce(tf.mul(tf.neg(rs), dyTimesScale)),
        variance: () => reduce(tf.mul(tf.mul(tf.mul(tf.pow(rs, tf.scalar(3)), tf.scalar(-0.5)), xMinusMean), dyTimesScale)),
        scale: () => reduce(tf.mul(g, tf.mul(xMinusMean, rs))),
        offset: () => reduce(g),
      };
    },
  });
}
